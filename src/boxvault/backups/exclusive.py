"""Backups wait while a maintenance job (GDPR erasure, retention) of their task holds the repository.

Those jobs need restic's exclusive lock; a backup holds a shared one while it writes. The maintenance job
waits for running backups (`acquire_exclusive` below); a backup whose job starts while a
maintenance job of the same task is in progress waits here (polling the Job rows, the truth) instead of
failing on the lock. The window between this check and the backup taking its shared lock is closed by the
lock itself: a backup that loses that race fails without writing anything and runs at its next slot.
"""

from __future__ import annotations

import time
from typing import Any

from boxvault.core.env import env_int
from boxvault.engine.errors import RepositoryLocked
from boxvault.jobs.models import Job

MAINTENANCE_KINDS = ("erasure", "retention", "purge")


def _wait_limits() -> tuple[float, float]:
    limit = time.monotonic() + env_int("BOXVAULT_MAINTENANCE_LOCK_WAIT", 6 * 3600)
    poll = max(0.2, env_int("BOXVAULT_MAINTENANCE_LOCK_POLL_MS", 2000) / 1000)
    return limit, poll


def acquire_exclusive(repo: Any, ctx: Any, what: str) -> Any:
    """The repository's exclusive lock, waiting while others (backups) hold theirs; cancellable."""
    limit, poll = _wait_limits()
    told = False
    while True:
        try:
            return repo.lock(exclusive=True).acquire()
        except RepositoryLocked as exc:
            if not told:
                ctx.log(f"{what} waits for the repository: {exc}")
                ctx.progress(message="waiting for running backups to finish")
                told = True
            if time.monotonic() > limit:
                raise
        ctx.raise_if_cancelled()
        time.sleep(poll)


def maintenance_running(task_id: int) -> bool:
    return Job.objects.filter(
        task_id=task_id, kind__in=MAINTENANCE_KINDS, status=Job.Status.IN_PROGRESS
    ).exists()


def wait_for_maintenance(task_id: int, ctx: Any) -> None:
    limit, poll = _wait_limits()
    told = False
    while maintenance_running(task_id) and time.monotonic() < limit:
        if not told:
            ctx.log("waiting: an erasure or retention job of this task is using the repository")
            told = True
        if ctx.cancelled():
            return  # the run itself sees the cancel and commits nothing
        time.sleep(poll)
