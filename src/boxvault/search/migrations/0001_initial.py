from typing import Any

from django.db import migrations


def create(apps: Any, schema_editor: Any) -> None:
    from boxvault.search import schema

    schema.ensure(schema_editor.connection)


def remove(apps: Any, schema_editor: Any) -> None:
    from boxvault.search import schema

    schema.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("backups", "0002_oauth_acts_as_users")]
    operations = [migrations.RunPython(create, remove)]
