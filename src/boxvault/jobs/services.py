"""Every change to a Job. The Job row is the truth and the queue only carries its id, so each step is a
conditional UPDATE on the row: whoever's UPDATE matches wins, everybody else backs off. Transactions stay
short (SQLite has a single writer; the settings give it WAL, IMMEDIATE transactions and a busy timeout).

    enqueue → pending ─claim→ in_progress ─finish→ succeeded | partially_succeeded | failed | canceled
                 ↑                 │ lease expired (worker died)
                 └── reconcile ────┘ (or failed after too many attempts)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat

from boxvault.accounts.access import Access
from boxvault.activity import services as activity
from boxvault.core import clock
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.jobs import conf, registry
from boxvault.jobs.models import Job, JobLogLine

log = logging.getLogger("boxvault.jobs")
Status = Job.Status
# Sent after the commit that finished a job, with `job=` (notifications, e-mail reports hook in here).
job_finished = Signal()
# Sent after the commit that took a job from a worker whose lease expired, with `job=` and `worker_id=`: the
# backups app removes that worker's repository locks (a worker killed with -9 leaves them behind, and stock
# `restic check` refuses to run until they go).
worker_lost = Signal()


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _send(job_id: int) -> None:
    """Put the id on the queue (after the commit, so a worker never sees a job that is not there yet)."""
    from boxvault.jobs.tasks import run_job

    run_job(job_id)


def _queue_on_commit(job_id: int) -> None:
    transaction.on_commit(lambda: _send(job_id))


def enqueue(
    *,
    account: Any,
    kind: str,
    initiator: Any = None,
    task: Any = None,
    box_user_id: str = "",
    box_user_login: str = "",
    params: dict[str, Any] | None = None,
    destination: str = "",
    service: str = "box",
) -> Job:
    """A pending Job, queued when the caller's transaction commits. `initiator` None means the scheduler."""
    if not kind or len(kind) > 32:
        raise ServiceError("A job needs a kind of at most 32 characters.")
    now = clock.now()
    user = initiator if initiator is not None and getattr(initiator, "pk", None) else None
    with transaction.atomic():
        job = Job.objects.create(
            account=account,
            kind=kind,
            initiator=user,
            initiator_label=getattr(user, "email", "") or "Scheduler",
            service=service,
            task_id=getattr(task, "pk", None),
            task_name=str(getattr(task, "name", "") or "")[:200],
            box_user_id=str(box_user_id or ""),
            box_user_login=str(box_user_login or "")[:254],
            destination=str(destination or "")[:500],
            params=params or {},
            created_at=now,
            queued_at=now,
        )
        _queue_on_commit(job.pk)
    return job


def claim(job_id: int, worker_id: str) -> Job | None:
    """pending → in_progress with a lease, for exactly one caller; None for everybody else."""
    now = clock.now()
    won = Job.objects.filter(pk=job_id, status=Status.PENDING).update(
        status=Status.IN_PROGRESS,
        worker_id=worker_id,
        started_at=Coalesce(F("started_at"), Value(now)),
        heartbeat_at=now,
        lease_expires_at=now + timedelta(seconds=conf.lease_seconds()),
        attempts=F("attempts") + 1,
    )
    return Job.objects.get(pk=job_id) if won else None


def heartbeat(job_id: int, worker_id: str) -> tuple[bool, bool]:
    """Renew the lease; answers (still ours, cancel requested)."""
    now = clock.now()
    alive = Job.objects.filter(pk=job_id, status=Status.IN_PROGRESS, worker_id=worker_id).update(
        heartbeat_at=now, lease_expires_at=now + timedelta(seconds=conf.lease_seconds())
    )
    return bool(alive), cancel_requested(job_id)


def cancel_requested(job_id: int) -> bool:
    return bool(Job.objects.filter(pk=job_id, cancel_requested=True).exists())


def save_progress(job_id: int, worker_id: str, fields: dict[str, Any], lines: list[tuple[str, str]]) -> bool:
    """Write buffered progress and log lines; False when the job is no longer this worker's."""
    now = clock.now()
    with transaction.atomic():
        updated = Job.objects.filter(pk=job_id, status=Status.IN_PROGRESS, worker_id=worker_id).update(
            heartbeat_at=now, **fields
        )
        if not updated:
            return False
        _append_log(job_id, lines, now)
    return True


def _append_log(job_id: int, lines: Iterable[tuple[str, str]], now: Any) -> None:
    lines = list(lines)
    if not lines:
        return
    have = Job.objects.filter(pk=job_id).values_list("log_lines", flat=True).first() or 0
    room = conf.max_log_lines() - have
    # The log is bounded: a run over millions of items must not grow the database without limit; the last
    # line says how much was dropped.
    kept = lines[: max(0, room)]
    if len(kept) < len(lines) and room > 0:
        kept[-1] = ("warning", f"log truncated: {len(lines) - len(kept) + 1} more line(s) not kept")
    JobLogLine.objects.bulk_create(
        [JobLogLine(job_id=job_id, created_at=now, level=level, message=msg[:10000]) for level, msg in kept]
    )
    Job.objects.filter(pk=job_id).update(log_lines=F("log_lines") + len(kept))


def add_log(job: Job, message: str, level: str = "info") -> None:
    """A log line from outside the handler (services, reconciler)."""
    _append_log(job.pk, [(level, message)], clock.now())


def note_covered_slot(job: Job, slot: datetime) -> None:
    """A scheduled run of the job's user fell due while the job still ran: the job stands for it (no second
    job for that user). Kept in the job's params (shown on its card) and said in its log."""
    with transaction.atomic():
        row = Job.objects.select_for_update().filter(pk=job.pk).first()
        if row is None:
            return
        covers = [*list(row.params.get("covers") or []), slot.isoformat()]
        Job.objects.filter(pk=job.pk).update(params={**row.params, "covers": covers[-30:]})
        when = f"{slot:%Y-%m-%d %H:%M} UTC"
        add_log(row, f"The scheduled backup of {when} is covered by this run, which is still going on.")


def finish(
    job_id: int,
    worker_id: str,
    status: str,
    *,
    message: str = "",
    result: dict[str, Any] | None = None,
    lines: Iterable[tuple[str, str]] = (),
) -> Job | None:
    """in_progress → a final status, with its activity row in the same transaction. None if the lease
    was lost meanwhile (another worker owns the job now and will finish it)."""
    assert status in Job.FINISHED
    now = clock.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != Status.IN_PROGRESS or job.worker_id != worker_id:
            return None
        job.status = status
        job.finished_at = now
        job.heartbeat_at = now
        job.lease_expires_at = None
        job.message = message[:1000] or job.message
        job.result = {**(job.result or {}), **(result or {})}
        job.save(
            update_fields=["status", "finished_at", "heartbeat_at", "lease_expires_at", "message", "result"]
        )
        _append_log(job.pk, lines, now)
        _record_finished(job)
        transaction.on_commit(lambda: job_finished.send(sender=Job, job=job))
    return job


def _record_finished(job: Job) -> None:
    activity.record_activity(
        job.account,
        job.kind_label,
        status=job.status,
        service=job.service,
        sub_service=str(job.params.get("sub_service", "")) if isinstance(job.params, dict) else "",
        task_id=job.task_id,
        task_name=job.task_name,
        item=job.box_user_login or job.box_user_id or job.destination,
        execution_seconds=job.duration_seconds,
        size_bytes=job.bytes_total if job.bytes_total is not None else job.bytes_done,
        stored_bytes=_int_or_none((job.result or {}).get("stored_bytes")),
        items_count=job.items_done,
        summary=_summary(job),
        job=job,
        actor=job.initiator,
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _summary(job: Job) -> str:
    parts = [f"{job.kind_label} {job.get_status_display().lower()}"]
    parts.append(f"{job.items_done} item(s)")
    if job.items_failed:
        parts.append(f"{job.items_failed} failed")
    parts.append(filesizeformat(job.bytes_done).replace("\xa0", " "))
    if job.message and job.message.lower() != job.get_status_display().lower():
        parts.append(job.message)
    return "; ".join(parts)


def cancel(access: Access, job: Job, *, request: HttpRequest | None = None) -> Job:
    """A pending job is canceled at once; a running one gets the flag its handler checks within seconds."""
    if not access.can(Operation.CANCEL_TASKS):
        raise ServiceError("Your role does not allow canceling jobs.")
    if job.account_id != access.account.pk:
        raise ServiceError("No such job.")
    now = clock.now()
    who = getattr(access.user, "email", "") or "system"
    with transaction.atomic():
        if Job.objects.filter(pk=job.pk, status=Status.PENDING).update(
            status=Status.CANCELED, cancel_requested=True, finished_at=now, message=f"Canceled by {who}"
        ):
            job.refresh_from_db()
            add_log(job, f"canceled by {who} before it started", "warning")
            _record_finished(job)
            transaction.on_commit(lambda: job_finished.send(sender=Job, job=job))
            return job
        if not Job.objects.filter(pk=job.pk, status=Status.IN_PROGRESS).update(cancel_requested=True):
            job.refresh_from_db()
            raise ServiceError(f"The job has already finished ({job.get_status_display()}).")
        add_log(job, f"cancel requested by {who}", "warning")
        activity.record_activity(
            job.account,
            "Cancel",
            status="info",
            service=job.service,
            task_id=job.task_id,
            task_name=job.task_name,
            item=job.box_user_login or job.box_user_id,
            summary=f"Cancel of {job.kind_label.lower()} job {job.pk} requested by {who}",
            job=job,
            actor=access.user,
        )
    job.refresh_from_db()
    return job


def failure_sentence(exc: BaseException) -> str:
    """One line for a failed job's card: never the Box SDK's multi-line dump with request and headers."""
    if type(exc).__module__.startswith("box_sdk_gen"):
        from boxvault.box.errors import describe

        return describe(exc)[:300]
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def run(job_id: int, worker_id: str | None = None) -> str | None:
    """Claim and run one job in this thread; the final status, or None when someone else has it."""
    from boxvault.jobs.context import JobCancelled, JobContext

    worker_id = worker_id or worker_identity()
    job = claim(job_id, worker_id)
    if job is None:
        return None
    ctx = JobContext(job, worker_id)
    fn = registry.get(job.kind)
    if fn is None:
        finish(
            job_id,
            worker_id,
            Status.FAILED,
            message=f"no handler for job kind {job.kind!r}",
            lines=[("error", f"no handler is registered for job kind {job.kind!r}")],
        )
        return Status.FAILED
    ctx.log(f"started on {worker_id} (attempt {job.attempts})")
    ctx.start()
    status, message = Status.SUCCEEDED, ""
    try:
        fn(ctx)
        if ctx.cancel_seen:
            status, message = Status.CANCELED, "Canceled"
        elif ctx.partial_reasons:
            status = Status.PARTIALLY_SUCCEEDED
            message = next((r for r in ctx.partial_reasons if r), "Some items failed")
    except JobCancelled:
        status, message = Status.CANCELED, "Canceled"
    except Exception as exc:
        # Tenants read the card, the activity row and the job log: the card gets one sentence, the log the
        # error's own text; the traceback (source paths, internals) goes to the server log only.
        status, message = Status.FAILED, failure_sentence(exc)
        ctx.log(f"{type(exc).__name__}: {str(exc).strip()}"[:4000], "error")
        log.warning("job %s failed: %s", job_id, message, exc_info=exc)
    finally:
        ctx.stop()
    if ctx.lost:
        log.warning("job %s: lease lost; leaving it to its new worker", job_id)
        return None
    done = finish(
        job_id, worker_id, status, message=message, result=ctx.result, lines=[("info", f"finished: {status}")]
    )
    return done.status if done is not None else None


def reconcile() -> dict[str, int]:
    """Hand jobs of dead workers back to the queue (or fail them after too many attempts), and re-queue
    pending jobs whose queue message was lost. Safe to run anywhere, any number of times at once."""
    now = clock.now()
    counts = {"requeued": 0, "failed": 0, "canceled": 0, "resent": 0}
    expired = Job.objects.filter(status=Status.IN_PROGRESS, lease_expires_at__lt=now)
    for job in expired.only("pk", "worker_id", "attempts", "cancel_requested", "lease_expires_at", "task_id"):
        with transaction.atomic():
            _on_commit_worker_lost(job)
            mine = Job.objects.filter(
                pk=job.pk, status=Status.IN_PROGRESS, worker_id=job.worker_id, lease_expires_at__lt=now
            )
            if job.cancel_requested:
                if mine.update(
                    status=Status.CANCELED,
                    finished_at=now,
                    lease_expires_at=None,
                    message="Canceled (its worker stopped)",
                ):
                    _close(job.pk, "canceled: its worker stopped after the cancel request")
                    counts["canceled"] += 1
            elif job.attempts >= conf.max_attempts():
                message = f"Gave up after {job.attempts} attempt(s): the worker running it stopped responding"
                if mine.update(status=Status.FAILED, finished_at=now, lease_expires_at=None, message=message):
                    _close(job.pk, message)
                    counts["failed"] += 1
            elif mine.update(status=Status.PENDING, worker_id="", lease_expires_at=None, queued_at=now):
                add_log(
                    job,
                    f"lease of {job.worker_id} expired; re-queued (attempt {job.attempts} of "
                    f"{conf.max_attempts()} used)",
                    "warning",
                )
                _queue_on_commit(job.pk)
                counts["requeued"] += 1
    counts["resent"] = _resend_lost(now)
    if any(counts.values()):
        log.info("reconciler: %s", counts)
    return counts


def _on_commit_worker_lost(job: Job) -> None:
    """Tell the owners of the dead worker's resources after the commit (their clean-up reads storage)."""
    lost, worker_id = job, job.worker_id

    def send() -> None:
        try:
            worker_lost.send(sender=Job, job=lost, worker_id=worker_id)
        except Exception:  # a failed clean-up must not stop the reconciler: restic's own stale-lock
            # rule (dead PID on this host, or 30 minutes) removes the lock at the next locking
            log.exception("clean-up after the lost worker %s failed", worker_id)

    transaction.on_commit(send)


def _close(job_id: int, message: str) -> None:
    job = Job.objects.get(pk=job_id)
    add_log(job, message, "error" if job.status == Status.FAILED else "warning")
    _record_finished(job)
    transaction.on_commit(lambda: job_finished.send(sender=Job, job=job))


def _resend_lost(now: Any) -> int:
    """Pending jobs queued a lease ago while the queue is empty: their message was lost (a crash between
    the commit and the enqueue, a flushed Redis). A duplicate message is harmless: only one claim wins."""
    from huey.contrib.djhuey import HUEY

    stale = now - timedelta(seconds=conf.lease_seconds())
    ids = list(
        Job.objects.filter(status=Status.PENDING, queued_at__lt=stale).values_list("pk", flat=True)[:500]
    )
    if not ids or HUEY.immediate:
        return 0
    try:
        if HUEY.pending_count() > 0:
            return 0
    except Exception:  # noqa: BLE001 - an unreachable queue is the worker's problem, not the reconciler's
        return 0
    sent = 0
    for job_id in ids:
        if Job.objects.filter(pk=job_id, status=Status.PENDING, queued_at__lt=stale).update(queued_at=now):
            _send(job_id)
            sent += 1
    return sent


def cleanup() -> int:
    """Delete finished jobs (and their log) past the retention period."""
    cutoff = clock.now() - timedelta(days=conf.retention_days())
    deleted, _ = Job.objects.filter(status__in=Job.FINISHED, finished_at__lt=cutoff).delete()
    return deleted
