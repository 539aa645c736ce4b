from typing import Any

from django.db import migrations


def upgrade(apps: Any, schema_editor: Any) -> None:
    # SQLite: a contentless FTS table replaces the one over a view of the catalog (the view broke
    # Django's table remakes of the catalog); ensure() drops the old objects and re-indexes.
    from boxvault.search import schema

    schema.ensure(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("search", "0002_fts_owner")]
    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop)]
