"""When a restore or export ends: wipe the export credentials, e-mail the initiator the summary."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.dispatch import receiver
from django.template.defaultfilters import filesizeformat

from boxvault.jobs.models import Job
from boxvault.jobs.services import job_finished

log = logging.getLogger("boxvault.recovery")


@receiver(job_finished)
def on_job_finished(sender: Any, job: Job, **kwargs: Any) -> None:
    if job.kind not in ("restore", "export"):
        return
    from boxvault.recovery import services

    services.wipe_secrets(job.pk)
    try:
        send_summary(Job.objects.get(pk=job.pk))
    except Exception:  # a mail server down must not turn a finished job into an error
        log.exception("recovery e-mail for job %s failed", job.pk)


def summary_lines(job: Job) -> list[str]:
    result = job.result or {}
    lines = [
        f"Status: {job.get_status_display()}",
        f"Task: {job.task_name}",
        f"Box user: {job.box_user_login or job.box_user_id}",
        f"Destination: {job.destination}",
        f"Items: {result.get('items', job.items_done)}",
        f"Bytes: {filesizeformat(result.get('bytes', job.bytes_done))}",
        f"Failures: {result.get('failed', job.items_failed)}",
    ]
    if job.message:
        lines.append(f"Message: {job.message}")
    return lines


def send_summary(job: Job) -> None:
    user = job.initiator
    if user is None or not getattr(user, "email", ""):
        return
    what = "Restore" if job.kind == "restore" else "Export"
    lines = summary_lines(job)
    url = (job.result or {}).get("download_url")
    if url:
        base = str(getattr(settings, "BOXVAULT_BASE_URL", "") or "").rstrip("/")
        lines += ["", f"Download (valid 72 hours, sign in first): {base}{url}"]
    send_mail(
        f"[boxvault] {what} {job.get_status_display().lower()}: {job.task_name}",
        "\n".join(lines) + "\n",
        None,
        [user.email],
    )
