"""The "erasure" job: wait for the repository's exclusive lock, erase, prune, verify, then the database side.

Locking (docs/recovery.md "Erasure and concurrent backups"): a backup holds a shared restic lock on the task's
repository while it writes; the erasure needs the exclusive lock, so it waits (polling, cancellable) until
running backups have finished. While the erasure holds it, a backup's job waits before it starts
(backups.handler waits while a maintenance job of the task is in progress), and a backup that slipped in
between fails to take its shared lock, writes nothing, and runs again at its next slot. So no snapshot is
ever written from a tree that still holds erased items after the erasure has begun, and every snapshot
written before is rewritten by it.
"""

from __future__ import annotations

from typing import Any

from boxvault.backups.exclusive import acquire_exclusive
from boxvault.backups.models import Task
from boxvault.backups.repository import open_repository
from boxvault.core import clock
from boxvault.jobs.registry import handler
from boxvault.recovery import erasing, erasure
from boxvault.recovery.models import Erasure


@handler("erasure")
def run_erasure_job(ctx: Any) -> None:
    row = Erasure.objects.select_related("account").get(pk=int((ctx.job.params or {})["erasure"]))
    try:
        _run(ctx, row)
    except BaseException as exc:
        cancelled = ctx.cancel_seen or type(exc).__name__ == "JobCancelled"
        erasure.mark(
            row.pk,
            Erasure.Status.CANCELED if cancelled else Erasure.Status.FAILED,
            "canceled before anything was erased" if cancelled else f"{type(exc).__name__}: {exc}",
        )
        raise


def _run(ctx: Any, row: Erasure) -> None:
    task = Task.objects.get(pk=row.task_id)
    started = clock.now()
    Erasure.objects.filter(pk=row.pk).update(status=Erasure.Status.RUNNING)
    ctx.progress(message="erasing", items_total=None)
    repo = open_repository(task)
    with repo:
        lock = acquire_exclusive(repo, ctx, "the erasure")
        try:
            # From here on the job is not cancellable: rewrite and prune are each crash-safe, and a rerun
            # (after a crash) finishes the work, but stopping half-way would leave the data in storage.
            outcome = erasing.erase(
                repo, row.box_user_id, list(row.paths), whole_user=row.whole_user, log=ctx.log
            )
        finally:
            lock.release()
    left_at = clock.now()
    # engine maintenance works beside the Repository object's caches: check with a fresh one
    with open_repository(task) as fresh:
        leftovers = erasing.still_present(fresh, row.box_user_id, outcome.targets or list(row.paths))
    if leftovers:
        raise RuntimeError(f"erased paths are still in snapshots: {', '.join(leftovers[:5])}")
    receipt = erasure.finish_erasure(row, task, outcome, started_at=started, left_at=left_at)
    ctx.progress(
        items_done=len(outcome.changes),
        items_total=len(outcome.changes),
        bytes_done=outcome.bytes_removed,
        message=f"{len(outcome.changes)} snapshot(s) rewritten, {outcome.bytes_removed} bytes removed",
    )
    ctx.set_result(
        erasure=row.pk,
        snapshots_rewritten=len(receipt["snapshots_rewritten"]),
        bytes_removed=outcome.bytes_removed,
        receipt_url=f"/api/v1/erasures/{row.pk}/receipt/",
    )
