"""`manage check --deploy`: production keeps its KEK outside the data directory."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def kek_configured(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.BOXVAULT_KEK:
        return []
    return [
        Warning(
            "BOXVAULT_KEK (or BOXVAULT_KEK_FILE) is not set: backup-task secrets would be sealed under a key "
            "generated into the data directory, next to the database it protects.",
            hint="Generate one with `openssl rand -base64 32`, keep it apart from the database backups.",
            id="boxvault.W101",
        )
    ]
