"""Signed report download links: like the zip-export links (recovery/links.py), valid 72 hours on the
portal clock, and only for a signed-in member of the report's account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.urls import reverse

from boxvault.core.signedlinks import LinkError, SignedLinks

LINKS = SignedLinks("boxvault.notifications.report", "report link", key="d")
VALID_FOR = LINKS.valid_for

__all__ = ["VALID_FOR", "Link", "LinkError", "filename", "make_path", "read_token"]


@dataclass
class Link:
    delivery_id: int
    account_id: int
    issued_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + VALID_FOR


def make_path(delivery_id: int, account_id: int, issued_at: datetime | None = None) -> str:
    return reverse("notifications:report", args=[LINKS.make(delivery_id, account_id, issued_at)])


def read_token(token: str) -> Link:
    return Link(*LINKS.read(token))


def filename(delivery: Any) -> str:
    end = delivery.period_end or delivery.created_at
    return f"boxvault-report-{end:%Y-%m-%d}.csv"
