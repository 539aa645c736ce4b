"""Signed download links for zip exports.

A link names the job and its account, signed with the server's SECRET_KEY (Django's signing, salted for
this use). Its age is checked against the portal clock (`boxvault.core.clock`, so tests move time), not
the signer's own timestamp. Decision (docs/recovery.md): the link is not enough on its own; the person
following it must be signed in as a member of the job's account with the EXPORT operation. A forwarded
e-mail therefore leaks nothing, and the 72 hours bound how long the file is kept and offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse

from boxvault.core.signedlinks import LinkError, SignedLinks

LINKS = SignedLinks(
    "boxvault.recovery.download", "download link", key="j", expired_hint="Start a new export."
)
VALID_FOR = LINKS.valid_for

__all__ = ["VALID_FOR", "Link", "LinkError", "download_path", "make_token", "read_token"]


@dataclass
class Link:
    job_id: int
    account_id: int
    issued_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + VALID_FOR


def make_token(job_id: int, account_id: int) -> str:
    return LINKS.make(job_id, account_id)


def download_path(job_id: int, account_id: int) -> str:
    return reverse("recovery:download", args=[make_token(job_id, account_id)])


def read_token(token: str) -> Link:
    return Link(*LINKS.read(token))
