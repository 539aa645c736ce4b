"""Signed report download links: like the zip-export links (recovery/links.py), valid 72 hours on the
portal clock, and only for a signed-in member of the report's account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import signing
from django.urls import reverse

from boxvault.core import clock

VALID_FOR = timedelta(hours=72)
_SALT = "boxvault.notifications.report"


class LinkError(Exception):
    """Why a link is refused, in words for the person holding it."""


@dataclass
class Link:
    delivery_id: int
    account_id: int
    issued_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + VALID_FOR


def make_path(delivery_id: int, account_id: int, issued_at: datetime | None = None) -> str:
    token = signing.dumps(
        {"d": delivery_id, "a": account_id, "t": (issued_at or clock.now()).isoformat()},
        salt=_SALT,
        compress=True,
    )
    return reverse("notifications:report", args=[token])


def read_token(token: str) -> Link:
    try:
        doc = signing.loads(token, salt=_SALT)
        link = Link(int(doc["d"]), int(doc["a"]), datetime.fromisoformat(str(doc["t"])))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkError("This report link is not valid: it was changed or cut short.") from exc
    if clock.now() > link.expires_at:
        raise LinkError("This report link has expired (links are valid for 72 hours).")
    return link


def filename(delivery: Any) -> str:
    end = delivery.period_end or delivery.created_at
    return f"boxvault-report-{end:%Y-%m-%d}.csv"
