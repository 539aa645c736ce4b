"""Creating, revoking and checking API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from boxvault.api.models import ApiToken
from boxvault.core import clock
from boxvault.security.models import AuditEvent
from boxvault.security.services import record

PREFIX = "bvt_"


class TokenError(ValueError):
    pass


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _account(user: Any) -> Any:
    member = getattr(user, "member", None)
    return member.account if member is not None else None


def create_token(user: Any, name: str, *, request: HttpRequest | None = None) -> tuple[ApiToken, str]:
    """Returns the row and the key; the key is shown once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise TokenError("The token name must be 1 to 100 characters.")
    key = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=key[:12], digest=_digest(key), created_at=clock.now()
        )
        record(
            _account(user),
            AuditEvent.Activity.API_TOKEN,
            f"Created API token {name!r} ({token.prefix}…)",
            actor=user,
            request=request,
        )
    return token, key


def revoke_token(user: Any, token_id: int, *, request: HttpRequest | None = None) -> bool:
    with transaction.atomic():
        token = ApiToken.objects.filter(user=user, pk=token_id).first()
        if token is None:
            return False
        token.delete()
        record(
            _account(user),
            AuditEvent.Activity.API_TOKEN,
            f"Revoked API token {token.name!r} ({token.prefix}…)",
            actor=user,
            request=request,
        )
    return True


def user_for_key(key: str) -> Any:
    token = ApiToken.objects.select_related("user").filter(digest=_digest(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = clock.now()
    # One write a minute at most: a busy script must not turn every GET into a database write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
