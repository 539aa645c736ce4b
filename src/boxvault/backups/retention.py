"""Retention that deletes: the task's policy, and the purge of archived or deleted users, as jobs.

**How retention counts (a decision).** A snapshot is removed once it is older than the period counted back
from *now* (the portal clock): with "30 days", the daily pass removes every snapshot whose time is before
now - 30 days; months and years are calendar arithmetic as Go's AddDate (31 March minus one month is 3 March).
restic's `forget --keep-within` counts from the newest snapshot instead, which would keep a paused or
departed user's data forever; here nobody's data outlives the period, and a user whose backups stopped loses
their last snapshot when it turns older than the period (pause the policy, not the user, to keep it).

The daily pass (`apply_all`, periodic at 04:41 UTC) queues one "retention" job per task with a policy; the
hourly purge (`backups.services.purge_due`) queues one "purge" job per task for its archived users past the
archived-retention days and its deleted users past their grace. Each job takes the repository's exclusive
lock (waiting for running backups; backups wait for it: backups/exclusive.py), forgets, prunes with
`BOXVAULT_RETENTION_MAX_UNUSED` (default 0%: the deleted data's bytes leave storage now, not in some later
prune), and reports the snapshots and bytes removed in the job's counts and result. The catalog follows.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from boxvault.backups.models import CatalogSnapshot, CatalogVersion, Task, TaskUser
from boxvault.backups.repository import open_repository
from boxvault.core import clock
from boxvault.core.env import env_str
from boxvault.engine.storage.cached import locked_until
from boxvault.engine.storage.objectlock import ObjectLocked
from boxvault.jobs.models import Job

log = logging.getLogger(__name__)


def cutoff(task: Task, now: datetime) -> datetime | None:
    """Snapshots before this time are expired; None for Unlimited."""
    from boxvault.engine.forget import Duration

    if task.retention == Task.Retention.UNLIMITED or task.retention_value < 1:
        return None
    unit = {"days": "d", "months": "m", "years": "y"}[task.retention]
    return Duration.parse(f"{task.retention_value}{unit}").before(now)


def _stored(repo: Any) -> int:
    return sum(size for _name, size in repo.backend.list("data"))


class _Quiet:
    """A stand-in job context for synchronous callers (the CLI's `--apply`)."""

    def log(self, message: str, level: str = "info") -> None:
        log.info("%s", message)

    def progress(self, **_: Any) -> None:
        return

    def raise_if_cancelled(self) -> None:
        return


def _forget_and_prune(
    task: Task, ids_of: Any, ctx: Any, what: str, *, skip_locked: bool = False
) -> dict[str, Any]:
    """Under the exclusive lock: forget the snapshots `ids_of(snapshots)` names, prune; counts.

    S3 object lock (docs/storage.md): with ``skip_locked`` (retention) snapshots still locked are kept and
    the log says until when (a later daily pass removes them); otherwise (purge) forget refuses as a whole,
    before deleting anything, with the date. A prune refused after a forget (a pack locked longer than the
    snapshots that used it) is logged with its date and leaves the repository consistent: the forgotten
    snapshots are gone, their bytes stay until a later prune."""
    if not task.repository_id:  # never backed up: nothing is stored (and nothing to create)
        return {"snapshots_removed": 0, "bytes_removed": 0, "stored_bytes": 0, "removed": [], "by_user": {}}
    from boxvault.backups.exclusive import acquire_exclusive
    from boxvault.engine.forget import ExpirePolicy
    from boxvault.engine.forget_run import forget
    from boxvault.engine.prune import prune

    repo = open_repository(task)
    with repo:
        lock = acquire_exclusive(repo, ctx, what)
        try:
            snapshots = repo.list_snapshots()
            ids = list(ids_of(snapshots))
            before = _stored(repo)
            removed: list[str] = []
            if ids and skip_locked:
                locked = locked_until(repo.backend, [f"snapshots/{i}" for i in ids])
                if locked:
                    until = max(locked.values()).isoformat(timespec="seconds")
                    ctx.log(
                        f"object lock: {len(locked)} snapshot(s) past the retention are locked (the last "
                        f"until {until}); they are kept and removed by the first pass after that",
                        "warning",
                    )
                    ids = [i for i in ids if f"snapshots/{i}" not in locked]
            if ids:
                removed = list(forget(repo, ExpirePolicy(), snapshot_ids=ids, lock=False).removed)
                try:
                    prune(repo, lock=False, max_unused=env_str("BOXVAULT_RETENTION_MAX_UNUSED", "0%"))
                except ObjectLocked as exc:
                    ctx.log(
                        f"prune refused, nothing pruned: {exc}; a later prune removes the bytes", "warning"
                    )
            after = _stored(repo)
        finally:
            lock.release()
    by_user: dict[str, list[str]] = {}
    for snap in snapshots:
        if snap.id in removed:
            user = next((t[5:] for t in snap.tags if t.startswith("user:")), "")
            by_user.setdefault(user, []).append(snap.id)
    return {
        "snapshots_removed": len(removed),
        "bytes_removed": max(0, before - after),
        "stored_bytes": after,
        "removed": removed,
        "by_user": by_user,
    }


def _catalog_after_forget(task: Task, by_user: dict[str, list[str]]) -> None:
    """Catalog rows of forgotten snapshots go; ranges that reach into kept snapshots start at the first kept.

    Retention removes the oldest snapshots of a user (a prefix in catalog order), so a row is either wholly
    in removed snapshots (deleted) or continues into the first kept one (moved forward)."""
    for user, ids in by_user.items():
        gone = CatalogSnapshot.objects.filter(task=task, box_user_id=user, snapshot_id__in=ids)
        kept = CatalogSnapshot.objects.filter(task=task, box_user_id=user).exclude(snapshot_id__in=ids)
        first = kept.order_by("id").first()
        rows = CatalogVersion.objects.filter(task=task, box_user_id=user)
        if first is None:
            rows.delete()
            CatalogSnapshot.objects.filter(task=task, box_user_id=user).delete()
            continue
        rows.filter(until_snapshot__id__lte=first.id).delete()
        rows.filter(from_snapshot__id__lt=first.id).update(from_snapshot=first)
        gone.filter(id__lt=first.id).delete()
        TaskUser.objects.filter(task=task, box_user_id=user).update(first_backup_at=first.time)


def run_retention(task: Task, ctx: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.now()
    limit = cutoff(task, now)
    if limit is None:
        return {"snapshots_removed": 0, "bytes_removed": 0, "removed": [], "cutoff": None}
    ctx.log(f"retention {task.retention_label}: removing snapshots older than {limit.isoformat()}")
    outcome = _forget_and_prune(
        task,
        lambda snaps: [s.id for s in snaps if s.datetime < limit],
        ctx,
        "the retention pass",
        skip_locked=True,
    )
    with transaction.atomic():
        _catalog_after_forget(task, outcome["by_user"])
    outcome["cutoff"] = limit.isoformat()
    return outcome


def run_purge(task: Task, box_user_ids: list[str], ctx: Any) -> dict[str, Any]:
    """Every snapshot of these users, then their catalog and their rows (archived or deleted users)."""
    wanted = {f"user:{u}" for u in box_user_ids}
    outcome = _forget_and_prune(
        task, lambda snaps: [s.id for s in snaps if wanted & set(s.tags or [])], ctx, "the purge"
    )
    with transaction.atomic():
        CatalogVersion.objects.filter(task=task, box_user_id__in=box_user_ids).delete()
        CatalogSnapshot.objects.filter(task=task, box_user_id__in=box_user_ids).delete()
        TaskUser.objects.filter(task=task, box_user_id__in=box_user_ids).delete()
    outcome["users"] = list(box_user_ids)
    return outcome


# ------------------------------------------------------------------------------ queueing the jobs


def _active(task: Task, kind: str) -> bool:
    return Job.objects.filter(task_id=task.pk, kind=kind, status__in=Job.ACTIVE).exists()


def start_retention(task: Task, now: datetime | None = None) -> Job | None:
    """The task's retention job for this pass (None: Unlimited, or one is already waiting or running)."""
    from boxvault.jobs import services as jobs

    now = now or clock.now()
    if cutoff(task, now) is None or _active(task, "retention"):
        return None
    return jobs.enqueue(
        account=task.account,
        kind="retention",
        task=task,
        destination=f"Retention: {task.retention_label}",
        params={"now": now.isoformat(), "sub_service": "Retention"},
    )


def start_purge(task: Task, users: list[TaskUser]) -> Job | None:
    from boxvault.jobs import services as jobs

    if not users or _active(task, "purge"):
        return None
    logins = ", ".join(u.login for u in users[:5]) + (" ..." if len(users) > 5 else "")
    return jobs.enqueue(
        account=task.account,
        kind="purge",
        task=task,
        destination=f"Purge: {logins}"[:500],
        params={"users": [u.box_user_id for u in users], "sub_service": "Purge archived users"},
    )


def apply_all(now: datetime | None = None) -> dict[int, int]:
    """The daily retention pass: one retention job per task with a policy; task id -> job id."""
    queued: dict[int, int] = {}
    tasks = Task.objects.exclude(retention=Task.Retention.UNLIMITED).filter(deletion_due_at__isnull=True)
    for task in tasks.select_related("account"):
        job = start_retention(task, now)
        if job is not None:
            queued[task.pk] = job.pk
    return queued


# ------------------------------------------------------------------------------ synchronous (CLI)


def apply_retention(task: Task) -> list[str]:
    """Apply the task's retention now, in this process (`boxvault task retention --apply`)."""
    if cutoff(task, clock.now()) is None or not task.repository_id:
        return []
    return list(run_retention(task, _Quiet())["removed"])


def forget_users(task: Task, box_user_ids: list[str]) -> list[str]:
    """Remove every snapshot of these users from the task's repository, then prune (in this process)."""
    if not task.repository_id:
        return []
    wanted = {f"user:{u}" for u in box_user_ids}
    outcome = _forget_and_prune(
        task, lambda snaps: [s.id for s in snaps if wanted & set(s.tags or [])], _Quiet(), "the purge"
    )
    with transaction.atomic():  # listings and the next run's parent come from the catalog: keep it true
        _catalog_after_forget(task, outcome["by_user"])
    return list(outcome["removed"])
