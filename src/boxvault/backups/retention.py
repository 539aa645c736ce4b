"""Forget + prune for a task's repository: the task's retention policy, and users purged from it.

The retention policy maps to restic's `forget --keep-within <N>d|m|y --group-by host,paths` (each user's
snapshots are one group); removed snapshots' data goes with a prune afterwards.
"""

from __future__ import annotations

import logging
from typing import Any

from boxvault.backups.models import Task
from boxvault.backups.repository import open_repository

log = logging.getLogger(__name__)


def _forget_and_prune(repo: Any, *, policy: Any, snapshot_ids: list[str] | None) -> list[str]:
    from boxvault.engine.forget_run import forget
    from boxvault.engine.prune import prune

    with repo.lock(exclusive=True):
        result = forget(repo, policy, snapshot_ids=snapshot_ids, lock=False)
        if result.removed:
            prune(repo, lock=False)
    return list(result.removed)


def forget_users(task: Task, box_user_ids: list[str]) -> list[str]:
    """Remove every snapshot of these users from the task's repository, then prune."""
    from boxvault.engine.forget import ExpirePolicy

    if not task.repository_id:
        return []  # never backed up: nothing stored
    repo = open_repository(task)
    wanted = {f"user:{u}" for u in box_user_ids}
    ids = [s.id for s in repo.list_snapshots() if wanted & set(s.tags or [])]
    if not ids:
        return []
    return _forgotten(task, _forget_and_prune(repo, policy=ExpirePolicy(), snapshot_ids=ids))


def _forgotten(task: Task, removed: list[str]) -> list[str]:
    """Mark the removed snapshots in the catalog: listings and the next run's parent skip them."""
    from boxvault.backups.models import CatalogSnapshot
    from boxvault.core import clock

    for start in range(0, len(removed), 1000):
        CatalogSnapshot.objects.filter(task=task, snapshot_id__in=removed[start : start + 1000]).update(
            forgotten_at=clock.now()
        )
    return removed


def apply_retention(task: Task) -> list[str]:
    """Apply the task's retention (nothing for Unlimited)."""
    from boxvault.engine.forget import Duration, ExpirePolicy

    if task.retention == Task.Retention.UNLIMITED or not task.repository_id:
        return []
    unit = {"days": "d", "months": "m", "years": "y"}[task.retention]
    policy = ExpirePolicy(within=Duration.parse(f"{task.retention_value}{unit}"))
    return _forgotten(task, _forget_and_prune(open_repository(task), policy=policy, snapshot_ids=None))


def apply_all() -> dict[int, int]:
    """The daily retention pass over every task with a policy: task id -> snapshots removed."""
    removed: dict[int, int] = {}
    tasks = Task.objects.exclude(retention=Task.Retention.UNLIMITED).filter(deletion_due_at__isnull=True)
    for task in tasks:
        try:
            removed[task.pk] = len(apply_retention(task))
        except Exception:  # noqa: BLE001 - e.g. a backup holds the lock: tomorrow again
            log.exception("retention of task %s failed", task.pk)
    return removed
