"""Every change to an account's notification settings and recipients: one transaction each, with its
security-audit row in the same transaction. Sending lives in outbox.py, reports in reports.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from boxvault.core import clock
from boxvault.core.access import Access
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.notifications.models import MAX_RECIPIENTS, TYPES, NotificationSettings, Recipient
from boxvault.security.models import AuditEvent
from boxvault.security.services import record

SETTINGS_FIELDS = (
    "report_format",
    "delivery",
    "frequency",
    "hour_utc",
    "failures_only",
    "smart_min_files",
    "smart_min_share",
    "smart_factor",
)


def settings_for(account: Any) -> NotificationSettings:
    """The account's settings, created with the defaults on first use."""
    found = NotificationSettings.objects.filter(account=account).first()
    if found is not None:
        return found
    now = clock.now()
    try:
        with transaction.atomic():
            return NotificationSettings.objects.create(account=account, created_at=now, updated_at=now)
    except IntegrityError:  # created meanwhile by another process
        return NotificationSettings.objects.get(account=account)


def _audit(access: Access, description: str, request: HttpRequest | None) -> None:
    record(
        access.account,
        AuditEvent.Activity.SETTINGS_CHANGED,
        description,
        actor=access.user,
        request=request,
        service="Notifications",
    )


def _clean_settings(changes: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    choices = {
        "report_format": NotificationSettings.ReportFormat.values,
        "delivery": NotificationSettings.Delivery.values,
        "frequency": NotificationSettings.Frequency.values,
    }
    for name, value in changes.items():
        if name not in SETTINGS_FIELDS:
            raise ServiceError(f"Unknown setting: {name}.")
        if name in choices:
            if value not in choices[name]:
                raise ServiceError(f"{name} must be one of: {', '.join(choices[name])}.")
        elif name == "hour_utc" or name == "smart_min_files":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ServiceError(f"{name} must be a whole number.")
            if name == "hour_utc" and not 0 <= value <= 23:
                raise ServiceError("hour_utc must be between 0 and 23.")
            if name == "smart_min_files" and not 1 <= value <= 1_000_000:
                raise ServiceError("smart_min_files must be between 1 and 1,000,000.")
        elif name == "failures_only":
            if not isinstance(value, bool):
                raise ServiceError("failures_only must be true or false.")
        else:  # smart_min_share, smart_factor
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ServiceError(f"{name} must be a number.")
            value = float(value)
            if name == "smart_min_share" and not 0.0 < value <= 1.0:
                raise ServiceError("smart_min_share must be above 0 and at most 1.")
            if name == "smart_factor" and not 1.0 <= value <= 1000.0:
                raise ServiceError("smart_factor must be between 1 and 1000.")
        clean[name] = value
    return clean


def update_settings(
    access: Access, *, request: HttpRequest | None = None, **changes: Any
) -> NotificationSettings:
    access.require(Operation.MANAGE_NOTIFICATIONS)
    clean = _clean_settings(changes)
    settings_for(access.account)
    with transaction.atomic():
        current = NotificationSettings.objects.select_for_update().get(account=access.account)
        changed = {k: v for k, v in clean.items() if getattr(current, k) != v}
        if not changed:
            return current
        for name, value in changed.items():
            setattr(current, name, value)
        current.updated_at = clock.now()
        current.save()
        words = ", ".join(f"{k} = {v}" for k, v in sorted(changed.items()))
        _audit(access, f"Notification settings changed: {words}", request)
    return current


def _clean_recipient(email: Any, display_name: Any, types: Any) -> tuple[str, str, list[str]]:
    if not isinstance(email, str) or not email.strip():
        raise ServiceError("Enter an e-mail address.")
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ServiceError(f"{email[:254]!r} is not a valid e-mail address.") from exc
    if len(email) > 254:
        raise ServiceError("The e-mail address is too long.")
    name = "" if display_name is None else display_name
    if not isinstance(name, str):
        raise ServiceError("display_name must be text.")
    name = " ".join(name.split())
    if len(name) > 120:
        raise ServiceError("The display name is at most 120 characters.")
    if not isinstance(types, list | tuple) or not all(isinstance(t, str) for t in types):
        raise ServiceError(f"types must be a list of: {', '.join(TYPES)}.")
    unknown = sorted(set(types) - set(TYPES))
    if unknown:
        raise ServiceError(f"Unknown notification type(s): {', '.join(unknown)[:200]}.")
    if not types:
        raise ServiceError("Choose at least one notification type.")
    # Keep the canonical order, not the caller's.
    return email.lower(), name, [t for t in TYPES if t in set(types)]


def _describe(recipient: Recipient) -> str:
    return f"{recipient.email} ({', '.join(recipient.type_labels)})"


def add_recipient(
    access: Access,
    *,
    email: Any,
    display_name: Any = "",
    types: Iterable[str] | Any = (),
    request: HttpRequest | None = None,
) -> Recipient:
    access.require(Operation.MANAGE_NOTIFICATIONS)
    email, name, kinds = _clean_recipient(
        email, display_name, list(types) if isinstance(types, tuple) else types
    )
    settings_for(access.account)
    with transaction.atomic():
        # The settings row is the account's lock: two concurrent adds can't both pass the cap or the
        # duplicate check.
        NotificationSettings.objects.select_for_update().get(account=access.account)
        rows = Recipient.objects.filter(account=access.account)
        if rows.filter(email__iexact=email).exists():
            raise ServiceError(f"{email} is already a recipient.")
        if rows.count() >= MAX_RECIPIENTS:
            raise ServiceError(f"An account has at most {MAX_RECIPIENTS:,} recipients.")
        recipient = Recipient.objects.create(
            account=access.account, email=email, display_name=name, types=kinds, created_at=clock.now()
        )
        _audit(access, f"Notification recipient added: {_describe(recipient)}", request)
    return recipient


def update_recipient(
    access: Access,
    recipient: Recipient,
    *,
    email: Any,
    display_name: Any = "",
    types: Any = (),
    request: HttpRequest | None = None,
) -> Recipient:
    access.require(Operation.MANAGE_NOTIFICATIONS)
    email, name, kinds = _clean_recipient(
        email, display_name, list(types) if isinstance(types, tuple) else types
    )
    with transaction.atomic():
        NotificationSettings.objects.select_for_update().filter(account=access.account).first()
        row = Recipient.objects.select_for_update().get(pk=recipient.pk, account=access.account)
        if Recipient.objects.filter(account=access.account, email__iexact=email).exclude(pk=row.pk).exists():
            raise ServiceError(f"{email} is already a recipient.")
        before = _describe(row)
        row.email, row.display_name, row.types = email, name, kinds
        row.save(update_fields=["email", "display_name", "types"])
        _audit(access, f"Notification recipient changed: {before} -> {_describe(row)}", request)
    return row


def remove_recipient(access: Access, recipient: Recipient, *, request: HttpRequest | None = None) -> None:
    access.require(Operation.MANAGE_NOTIFICATIONS)
    with transaction.atomic():
        deleted, _ = Recipient.objects.filter(pk=recipient.pk, account=access.account).delete()
        if deleted:
            _audit(access, f"Notification recipient removed: {_describe(recipient)}", request)


def recipients_of(account: Any, kind: str) -> list[Recipient]:
    """The recipients who chose `kind` (filtered here: SQLite has no JSON containment lookup)."""
    return [r for r in Recipient.objects.filter(account=account).order_by("id") if kind in (r.types or [])]
