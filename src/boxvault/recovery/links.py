"""Signed download links for zip exports.

A link names the job and its account, signed with the server's SECRET_KEY (Django's signing, salted for
this use). Its age is checked against the portal clock (`boxvault.core.clock`, so tests move time), not
the signer's own timestamp. Decision (docs/recovery.md): the link is not enough on its own; the person
following it must be signed in as a member of the job's account with the EXPORT operation. A forwarded
e-mail therefore leaks nothing, and the 72 hours bound how long the file is kept and offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.urls import reverse

from boxvault.core import clock

VALID_FOR = timedelta(hours=72)
_SALT = "boxvault.recovery.download"


class LinkError(Exception):
    """Why a link is refused, in words for the person holding it."""


@dataclass
class Link:
    job_id: int
    account_id: int
    issued_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + VALID_FOR


def make_token(job_id: int, account_id: int) -> str:
    return signing.dumps(
        {"j": job_id, "a": account_id, "t": clock.now().isoformat()}, salt=_SALT, compress=True
    )


def download_path(job_id: int, account_id: int) -> str:
    return reverse("recovery:download", args=[make_token(job_id, account_id)])


def read_token(token: str) -> Link:
    try:
        doc = signing.loads(token, salt=_SALT)
        link = Link(int(doc["j"]), int(doc["a"]), datetime.fromisoformat(str(doc["t"])))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkError("This download link is not valid: it was changed or cut short.") from exc
    if clock.now() > link.expires_at:
        raise LinkError("This download link has expired (links are valid for 72 hours). Start a new export.")
    return link
