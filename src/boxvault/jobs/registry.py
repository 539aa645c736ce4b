"""Which function runs which kind of job. Each app registers its handlers at import time (import the module
from your AppConfig.ready() so every worker has it):

    from boxvault.jobs.registry import handler

    @handler("backup")
    def run_backup_job(ctx: JobContext) -> None: ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from boxvault.core.env import env_list

if TYPE_CHECKING:
    from boxvault.jobs.context import JobContext

Handler = Callable[["JobContext"], None]
_handlers: dict[str, Handler] = {}
# Comma-separated modules imported by every process at start-up: extra handlers without touching the apps
# (the scale-out test plugs its test-only handlers in this way; see docs/jobs.md).
EXTRA_MODULES_ENV = "BOXVAULT_JOB_HANDLER_MODULES"


class HandlerConflict(RuntimeError):
    pass


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        existing = _handlers.get(kind)
        # Re-importing a module registers an equal function again; a different one is a real clash.
        if existing is not None and existing.__qualname__ != fn.__qualname__:
            raise HandlerConflict(f"job kind {kind!r} already has a handler: {existing.__qualname__}")
        _handlers[kind] = fn
        return fn

    return register


def get(kind: str) -> Handler | None:
    return _handlers.get(kind)


def kinds() -> list[str]:
    return sorted(_handlers)


def unregister(kind: str) -> None:
    """Tests only."""
    _handlers.pop(kind, None)


def import_extra_modules() -> None:
    for module in env_list(EXTRA_MODULES_ENV, []):
        importlib.import_module(module)
