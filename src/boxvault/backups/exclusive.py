"""Backups wait while a maintenance job (GDPR erasure, retention) of their task holds the repository.

Those jobs need restic's exclusive lock; a backup holds a shared one while it writes. The maintenance job
waits for running backups (recovery/erasure_job.acquire_exclusive); a backup whose job starts while a
maintenance job of the same task is in progress waits here (polling the Job rows, the truth) instead of
failing on the lock. The window between this check and the backup taking its shared lock is closed by the
lock itself: a backup that loses that race fails without writing anything and runs at its next slot.
"""

from __future__ import annotations

import time
from typing import Any

from boxvault.core.env import env_int
from boxvault.jobs.models import Job

MAINTENANCE_KINDS = ("erasure", "retention")


def maintenance_running(task_id: int) -> bool:
    return Job.objects.filter(
        task_id=task_id, kind__in=MAINTENANCE_KINDS, status=Job.Status.IN_PROGRESS
    ).exists()


def wait_for_maintenance(task_id: int, ctx: Any) -> None:
    limit = time.monotonic() + env_int("BOXVAULT_MAINTENANCE_LOCK_WAIT", 6 * 3600)
    poll = max(0.2, env_int("BOXVAULT_MAINTENANCE_LOCK_POLL_MS", 2000) / 1000)
    told = False
    while maintenance_running(task_id) and time.monotonic() < limit:
        if not told:
            ctx.log("waiting: an erasure or retention job of this task is using the repository")
            told = True
        if ctx.cancelled():
            return  # the run itself sees the cancel and commits nothing
        time.sleep(poll)
