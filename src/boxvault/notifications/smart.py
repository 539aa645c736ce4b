"""Smart alerts (filled in next)."""

from typing import Any


def after_backup(job: Any) -> None:
    return None
