"""Writing audit rows. Callers run inside their own transaction so the row commits or rolls back with the
change it describes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from boxvault.core import clock
from boxvault.security.models import AuditEvent
from boxvault.security.useragent import browser_name

Activity = AuditEvent.Activity


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # REMOTE_ADDR is what waitress saw, or what its trusted-proxy handling put there; never trust raw headers.
    return request.META.get("REMOTE_ADDR") or None


def from_where(request: HttpRequest | None) -> str:
    if request is None:
        return "from the command line"
    browser = browser_name(request.META.get("HTTP_USER_AGENT", ""))
    return f"{browser} from ip {client_ip(request) or 'unknown'}"


def record(
    account: Any,
    activity: str,
    description: str,
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    status: str = AuditEvent.Status.OK,
    service: str = "Portal",
    task: str = "",
) -> AuditEvent:
    user = actor if actor is not None and getattr(actor, "pk", None) else None
    return AuditEvent.objects.create(
        account=account,
        created_at=clock.now(),
        activity=activity,
        status=status,
        service=service,
        task=task,
        performed_by=getattr(actor, "email", "") or "system",
        user=user,
        ip=client_ip(request),
        description=description[:2000],
    )
