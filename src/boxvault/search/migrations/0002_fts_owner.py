from typing import Any

from django.db import migrations


def upgrade(apps: Any, schema_editor: Any) -> None:
    # SQLite: the FTS table gains an `owner` column; ensure() drops the old objects and re-indexes.
    from boxvault.search import schema

    schema.ensure(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]
    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop)]
