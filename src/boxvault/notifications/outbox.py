"""Sending: every message is a `Delivery` row first, then e-mailed to each recipient of its type.

Why an outbox: the SMTP server may be down when a job ends. The job must not fail for that, and the message
must not be lost or sent twice. So the row is written (or, for a report, claimed by its unique key), and
whoever moves it from pending to sending with a conditional UPDATE sends it; a failure puts it back with a
later `next_attempt_at` (logged), and the scheduler's pass retries it. `sent_to` remembers the addresses
already done, so a retry after a partial failure sends only the rest.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from boxvault.core import clock
from boxvault.notifications.models import TYPES, Delivery
from boxvault.notifications.services import recipients_of

log = logging.getLogger("boxvault.notifications")
# Waits after the 1st, 2nd, ... failed attempt; after the last the message is given up (status failed).
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
CLAIM_FOR = timedelta(minutes=10)  # a sender that died mid-send frees the row after this


def base_url() -> str:
    return str(getattr(settings, "BOXVAULT_BASE_URL", "") or "").rstrip("/")


def queue(
    account: Any,
    kind: str,
    key: str,
    subject: str,
    context: dict[str, Any],
    *,
    attachment: str = "",
    period: tuple[datetime, datetime] | None = None,
    status: str = Delivery.Status.PENDING,
) -> Delivery | None:
    """Write the message's row; None when a row with this key exists (someone else claimed it)."""
    assert kind in TYPES, kind
    try:
        with transaction.atomic():
            return Delivery.objects.create(
                account=account,
                type=kind,
                key=key[:120],
                subject=" ".join(subject.split())[:300],  # a name with a newline must not break headers
                context=context,
                attachment=attachment,
                period_start=period[0] if period else None,
                period_end=period[1] if period else None,
                status=status,
                created_at=clock.now(),
                next_attempt_at=clock.now(),
            )
    except IntegrityError:
        return None


def _claim(delivery: Delivery, now: datetime) -> bool:
    ready = Q(status=Delivery.Status.PENDING) | Q(status=Delivery.Status.SENDING, claimed_until__lt=now)
    return (
        Delivery.objects.filter(ready, pk=delivery.pk)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=Delivery.Status.SENDING, claimed_until=now + CLAIM_FOR)
        == 1
    )


def render(delivery: Delivery, *, name: str = "", email: str = "") -> tuple[str, str]:
    """The text and HTML bodies of `delivery` for one recipient."""
    account = delivery.account
    context = {
        **delivery.context,
        "account_name": account.name,
        "settings_url": base_url() + reverse("notifications:settings"),
        "base_url": base_url(),
        "recipient_name": name or email,
        "type_label": TYPES.get(delivery.type, delivery.type),
        "subject": delivery.subject,
    }
    text = render_to_string(f"notifications/email/{delivery.type}.txt", context)
    html = render_to_string(f"notifications/email/{delivery.type}.html", context)
    return text, html


def _message(delivery: Delivery, recipient: Any, connection: Any) -> EmailMultiAlternatives:
    text, html = render(delivery, name=recipient.display_name, email=recipient.email)
    message = EmailMultiAlternatives(
        subject=f"[boxvault] {delivery.subject}",
        body=text,
        to=[
            formataddr((recipient.display_name, recipient.email))
            if recipient.display_name
            else recipient.email
        ],
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    if delivery.attachment and delivery.context.get("attach_csv"):
        from boxvault.notifications.links import filename

        message.attach(filename(delivery), delivery.attachment, "text/csv")
    return message


def send(delivery: Delivery, now: datetime | None = None) -> str:
    """Send one claimed-or-claimable delivery; never raises for a mail failure. Returns the new status."""
    now = now or clock.now()
    if not _claim(delivery, now):
        return "claimed-elsewhere"
    delivery.refresh_from_db()
    # "skip": addresses told another way (a restore's initiator gets the recovery app's own e-mail).
    skip = {str(e).lower() for e in delivery.context.get("skip", [])} | set(delivery.sent_to)
    recipients = [r for r in recipients_of(delivery.account, delivery.type) if r.email not in skip]
    done = list(delivery.sent_to)
    error = ""
    try:
        connection = get_connection(fail_silently=False)
        for recipient in recipients:
            _message(delivery, recipient, connection).send()
            done.append(recipient.email)
    except Exception as exc:  # noqa: BLE001 - any mail trouble: log, retry later, never fail the caller
        error = f"{type(exc).__name__}: {exc}"[:500]
    if not error:
        status = Delivery.Status.SENT if done else Delivery.Status.SKIPPED
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status, sent_to=done, sent_at=clock.now(), claimed_until=None, last_error=""
        )
        return status
    attempts = delivery.attempts + 1
    give_up = attempts > len(RETRY_DELAYS)
    log.warning(
        "notification %s (%s, account %s) attempt %s failed%s: %s",
        delivery.pk,
        delivery.type,
        delivery.account_id,
        attempts,
        "; giving up" if give_up else "; will retry",
        error,
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED if give_up else Delivery.Status.PENDING,
        attempts=attempts,
        sent_to=done,
        last_error=error,
        claimed_until=None,
        next_attempt_at=None if give_up else now + RETRY_DELAYS[attempts - 1],
    )
    return Delivery.Status.FAILED if give_up else "retry"


def send_safely(delivery: Delivery | None) -> None:
    """Right after an event (a job's end): try now; anything going wrong is logged and left to the pass."""
    if delivery is None:
        return
    try:
        send(delivery)
    except Exception:
        log.exception("notification %s could not be sent now; the scheduler will retry", delivery.pk)


def send_pending(now: datetime) -> dict[str, int]:
    """Every message that is due (new, or waiting for its retry, or abandoned by a dead sender)."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    ready = Q(status=Delivery.Status.PENDING) | Q(status=Delivery.Status.SENDING, claimed_until__lt=now)
    rows = Delivery.objects.filter(ready).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    for delivery in rows.select_related("account").order_by("id")[:1000]:
        outcome = send(delivery, now)
        if outcome in counts:
            counts[outcome] += 1
    return counts
