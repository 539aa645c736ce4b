"""Where notifications hook into the other apps: the jobs app's `job_finished` and the backups app's
`task_disconnected` / `users_discovered` signals. Receivers only write rows and try to send; anything that
goes wrong is logged, and never reaches the job or the request that caused it."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver
from django.urls import reverse

from boxvault.backups.services import task_disconnected, users_discovered
from boxvault.core import clock
from boxvault.jobs.models import Job
from boxvault.jobs.services import job_finished
from boxvault.notifications import outbox
from boxvault.notifications.models import Event
from boxvault.notifications.services import recipients_of

log = logging.getLogger("boxvault.notifications")
FAILED = (Job.Status.FAILED, Job.Status.PARTIALLY_SUCCEEDED)


@receiver(job_finished, dispatch_uid="notifications.job_finished")
def on_job_finished(sender: Any, job: Job, **kwargs: Any) -> None:
    try:
        if job.kind == Job.Kind.BACKUP and job.status in FAILED:
            backup_failed(job)
        elif job.kind in (Job.Kind.RESTORE, Job.Kind.EXPORT):
            recovery_ended(job)
        if job.kind == Job.Kind.BACKUP and job.status in (
            Job.Status.SUCCEEDED,
            Job.Status.PARTIALLY_SUCCEEDED,
        ):
            from boxvault.notifications.smart import after_backup

            after_backup(job)
    except Exception:
        log.exception("notifications for job %s failed", job.pk)


def backup_failed(job: Job) -> None:
    """Told in the next exceptions batch (dispatch.queue_exceptions), not one message per user."""
    result = job.result or {}
    items = [
        f"{f.get('path') or f.get('item_id')}: {f.get('error', '')}"
        for f in (result.get("failures") or [])[:5]
        if isinstance(f, dict)
    ]
    Event.objects.create(
        account=job.account,
        type="exceptions",
        created_at=clock.now(),
        payload={
            "what": "job",
            "job": job.pk,
            "task": job.task_name,
            "box_user": job.box_user_login or job.box_user_id,
            "status": job.get_status_display(),
            "finished": job.finished_at.strftime("%Y-%m-%d %H:%M") if job.finished_at else "",
            "failed_items": int(result.get("failed", job.items_failed) or 0),
            "reason": job.message,
            "items": items,
            "job_url": reverse("jobs:log", args=[job.pk]),
        },
    )


def recovery_ended(job: Job) -> None:
    """To the Recovery recipients, besides the initiator (whom the recovery app e-mails itself)."""
    if not recipients_of(job.account, "recovery"):
        return
    from boxvault.recovery.signals import summary_lines

    what = "Restore" if job.kind == Job.Kind.RESTORE else "Export"
    delivery = outbox.queue(
        job.account,
        "recovery",
        f"job:{job.pk}",
        f"{what} {job.get_status_display().lower()}: {job.task_name}",
        {
            "lines": [*summary_lines(job), f"Started by: {job.initiator_label}"],
            "download_url": (job.result or {}).get("download_url") or "",
            "job_url": reverse("jobs:log", args=[job.pk]),
            "skip": [job.initiator.email] if job.initiator is not None and job.initiator.email else [],
        },
    )
    outbox.send_safely(delivery)


@receiver(task_disconnected, dispatch_uid="notifications.task_disconnected")
def on_task_disconnected(sender: Any, task: Any, reason: str, **kwargs: Any) -> None:
    Event.objects.create(
        account_id=task.account_id,
        type="exceptions",
        created_at=clock.now(),
        payload={
            "what": "connection",
            "task": task.name,
            "reason": reason[:500],
            "task_url": reverse("backups:settings", args=[task.pk]),
        },
    )


_NEW_OUTCOMES = {
    "scheduled": "activated automatically; its first backup is scheduled",
    "not_active": "not activated (activate it on the task's users page)",
    "other_task": "already backed up in another task",
}


@receiver(users_discovered, dispatch_uid="notifications.users_discovered")
def on_users_discovered(
    sender: Any,
    task: Any,
    new: list[dict[str, str]],
    deactivated: list[dict[str, str]],
    deleted: list[dict[str, str]],
    **kwargs: Any,
) -> None:
    if not recipients_of(task.account, "auto_discovery"):
        return
    days = getattr(task, "archived_retention_days", 90)

    def outcome(rows: list[dict[str, str]], words: Any) -> list[dict[str, str]]:
        return [{**r, "outcome": words(r)} for r in rows[:500]]

    parts = []
    if new:
        parts.append(f"{len(new)} new")
    if deactivated:
        parts.append(f"{len(deactivated)} deactivated")
    if deleted:
        parts.append(f"{len(deleted)} deleted")
    delivery = outbox.queue(
        task.account,
        "auto_discovery",
        f"discovery:{task.pk}:{clock.now().isoformat()}",
        f"Box users of {task.name}: {', '.join(parts)}",
        {
            "task": task.name,
            "new": outcome(new, lambda r: _NEW_OUTCOMES.get(r.get("status", ""), r.get("status", ""))),
            "deactivated": outcome(deactivated, lambda r: "deactivated in Box; existing backups are kept"),
            "deleted": outcome(deleted, lambda r: f"archived; its backups are kept for {days} days"),
            "users_url": reverse("backups:users", args=[task.pk]),
        },
    )
    outbox.send_safely(delivery)
