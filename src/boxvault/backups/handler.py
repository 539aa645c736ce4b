"""The "backup" job of the jobs app: load the task user, run, report (the Job row is the truth; the jobs app
writes the System Activity row when the job finishes)."""

from __future__ import annotations

from typing import Any

from boxvault.backups.exclusive import wait_for_maintenance
from boxvault.backups.models import TaskUser
from boxvault.backups.runner import run_user_backup
from boxvault.jobs.registry import handler


@handler("backup")
def run_backup_job(ctx: Any) -> None:
    params = ctx.job.params or {}
    if ctx.job.task_id is not None:
        wait_for_maintenance(int(ctx.job.task_id), ctx)
    outcome = run_user_backup(
        int(params["task_user"]), ctx, previous=str(params.get("previous_status", TaskUser.Status.ACTIVE))
    )
    ctx.set_result(**outcome.to_json(), stored_bytes=outcome.downloaded_bytes)
