"""The scheduler's pass (`send_due`): summary reports that are due, batched exception messages, and every
message waiting for a (re)try. Safe to run from any number of schedulers at once: each report is claimed by
its unique key, each batch by its events' conditional UPDATE, each message by its status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min

from boxvault.accounts.models import Account
from boxvault.core import clock
from boxvault.jobs.models import Job
from boxvault.notifications import links, outbox, periods, reports
from boxvault.notifications.models import Delivery, Event, NotificationSettings
from boxvault.notifications.services import recipients_of, settings_for

SUBJECTS = {"overview": "Backup report", "failures": "Backup failure details"}


def _quiet() -> timedelta:
    # A batch is sent once no new failure came for this long and no backup is still running...
    return timedelta(seconds=int(getattr(settings, "BOXVAULT_NOTIFY_BATCH_QUIET_SECONDS", 120)))


def _max_wait() -> timedelta:
    # ... or once its oldest failure has waited this long (a night-long run still reports hourly).
    return timedelta(seconds=int(getattr(settings, "BOXVAULT_NOTIFY_BATCH_MAX_SECONDS", 3600)))


def summary_for(account: Any, conf: NotificationSettings, start: datetime, end: datetime) -> dict[str, Any]:
    rows = reports.build_rows(account, start, end)
    shown = [r for r in rows if r.failed] if conf.report_format == "failures" else rows
    return {
        "context": reports.context(rows, conf.report_format, start, end),
        "csv": reports.to_csv(shown),
        "has_failures": any(r.failed for r in rows),
    }


def queue_summary(account: Any, now: datetime) -> Delivery | None:
    """The account's report for the latest period that has ended, if nobody has claimed it yet.

    Only the latest period: after downtime one report covers everything since the last one sent (caught up
    once, not once per missed period)."""
    conf = settings_for(account)
    end = periods.latest_slot(conf.frequency, conf.hour_utc, now)
    if end <= account.created_at:
        return None
    key = f"summary:{end.isoformat()}"
    if Delivery.objects.filter(account=account, key=key).exists():
        return None
    if not recipients_of(account, "summary"):
        return None
    last_end = (
        Delivery.objects.filter(account=account, type="summary", period_end__lt=end)
        .aggregate(m=Max("period_end"))
        .get("m")
    )
    # The first report starts when the account did, not a whole period before it.
    start = last_end or max(periods.previous_slot(conf.frequency, end), account.created_at)
    report = summary_for(account, conf, start, end)
    skip = conf.failures_only and not report["has_failures"]
    context = {
        **report["context"],
        "frequency": conf.frequency,
        "delivery": conf.delivery,
        "attach_csv": conf.delivery == NotificationSettings.Delivery.ATTACHMENT,
    }
    subject = f"{SUBJECTS[conf.report_format]}, {start:%Y-%m-%d} to {end:%Y-%m-%d}"
    delivery = outbox.queue(
        account,
        "summary",
        key,
        subject,
        context,
        attachment=report["csv"],
        period=(start, end),
        status=Delivery.Status.SKIPPED if skip else Delivery.Status.PENDING,
    )
    if delivery is not None and conf.delivery == NotificationSettings.Delivery.LINK:
        delivery.context["report_url"] = outbox.base_url() + links.make_path(delivery.pk, account.pk, now)
        delivery.context["link_expires"] = (now + links.VALID_FOR).strftime("%Y-%m-%d %H:%M UTC")
        Delivery.objects.filter(pk=delivery.pk).update(context=delivery.context)
    return delivery


def queue_exceptions(account: Any, now: datetime) -> Delivery | None:
    """One message for every failure not told yet, once the batch has settled."""
    pending = Event.objects.filter(account=account, type="exceptions", delivery__isnull=True)
    span = pending.aggregate(first=Min("created_at"), last=Max("created_at"), top=Max("id"))
    if span["top"] is None:
        return None
    running = Job.objects.filter(account=account, kind=Job.Kind.BACKUP, status__in=list(Job.ACTIVE)).exists()
    settled = not running and now - span["last"] >= _quiet()
    if not settled and now - span["first"] < _max_wait():
        return None
    with transaction.atomic():
        delivery = outbox.queue(account, "exceptions", f"exceptions:{span['top']}", "Backup exceptions", {})
        if delivery is None:
            return None
        # The claim: only events nobody else took; another scheduler's batch gets the rest (never twice).
        taken = pending.filter(id__lte=span["top"]).update(delivery=delivery)
        if not taken:
            delivery.delete()
            return None
        events = list(Event.objects.filter(delivery=delivery).order_by("id"))
        failures = [e.payload for e in events if e.payload.get("what") == "job"]
        lost = [e.payload for e in events if e.payload.get("what") == "connection"]
        delivery.context = {"failures": failures, "connections": lost, "count": len(failures)}
        parts = []
        if failures:
            parts.append(f"{len(failures)} backup{'s' if len(failures) != 1 else ''} failed or partly failed")
        if lost:
            parts.append(f"{len(lost)} task{'s' if len(lost) != 1 else ''} lost the Box connection")
        delivery.subject = "; ".join(parts)[:300]
        delivery.save(update_fields=["context", "subject"])
    return delivery


def send_due(now: datetime | None = None) -> dict[str, Any]:
    """The whole pass; returns what it did (for `boxvault notifications send-due --json`)."""
    now = now or clock.now()
    queued: dict[str, int] = {"summary": 0, "exceptions": 0}
    for account in Account.objects.filter(removal_due_at__isnull=True).order_by("id"):
        if queue_summary(account, now) is not None:
            queued["summary"] += 1
        if queue_exceptions(account, now) is not None:
            queued["exceptions"] += 1
    sent = outbox.send_pending(now)
    return {"now": now.isoformat(), "queued": queued, **sent}


KEEP_DELIVERIES = timedelta(days=180)
KEEP_CHANGE_STATS = timedelta(days=365)


def prune(now: datetime | None = None) -> dict[str, int]:
    """Forget finished messages after 180 days (with their events: an event whose message is gone must not
    look pending again) and change figures after a year (smart alerts use the last ten)."""
    from boxvault.notifications.models import ChangeStats

    now = now or clock.now()
    done = [Delivery.Status.SENT, Delivery.Status.SKIPPED, Delivery.Status.FAILED]
    with transaction.atomic():
        old = Delivery.objects.filter(created_at__lt=now - KEEP_DELIVERIES, status__in=done)
        events, _ = Event.objects.filter(delivery__in=old).delete()
        deliveries, _ = old.delete()
    stats, _ = ChangeStats.objects.filter(time__lt=now - KEEP_CHANGE_STATS).delete()
    return {"deliveries": deliveries, "events": events, "change_stats": stats}
