from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SearchConfig(AppConfig):
    name = "boxvault.search"
    label = "search"
    verbose_name = "Item search"

    def ready(self) -> None:
        post_migrate.connect(_ensure_index, sender=self)


def _ensure_index(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # A later migration of the backups app may rebuild the catalog table (SQLite remakes tables on
    # ALTER), which drops our triggers: re-create whatever is missing and re-index if we had to.
    from django.db import connections

    from boxvault.search import schema

    schema.ensure(connections[using])
