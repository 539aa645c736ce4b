"""The "retention" and "purge" jobs (thin: load the task, call retention.py, report the counts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boxvault.backups import retention
from boxvault.backups.models import Task
from boxvault.jobs.registry import handler


def _report(ctx: Any, outcome: dict[str, Any], what: str) -> None:
    removed, freed = int(outcome["snapshots_removed"]), int(outcome["bytes_removed"])
    ctx.progress(items_done=removed, items_total=removed, bytes_done=freed, message=f"{what}: {removed} "
                 f"snapshot(s) and {freed} bytes removed")  # fmt: skip
    ctx.log(f"{removed} snapshot(s) removed; {freed} bytes left storage")
    result = {k: v for k, v in outcome.items() if k not in ("by_user", "removed")}
    ctx.set_result(**result, removed_snapshots=outcome["removed"][:1000])


@handler("retention")
def run_retention_job(ctx: Any) -> None:
    task = Task.objects.get(pk=ctx.job.task_id)
    params = ctx.job.params or {}
    # the pass's own time: a job that waited for a long backup still applies the cutoff of its day
    now = datetime.fromisoformat(params["now"]) if params.get("now") else None
    _report(ctx, retention.run_retention(task, ctx, now), "retention")


@handler("purge")
def run_purge_job(ctx: Any) -> None:
    task = Task.objects.get(pk=ctx.job.task_id)
    users = [str(u) for u in (ctx.job.params or {}).get("users") or []]
    _report(ctx, retention.run_purge(task, users, ctx), "purge")
