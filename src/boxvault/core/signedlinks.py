"""Signed links that expire: a row id and its account, signed with the server's SECRET_KEY (Django's signing,
salted per use) and dated on the portal clock (so tests move time), checked on the way back.

A link is never enough on its own: the views that serve one also require a signed-in member of its account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing

from boxvault.core import clock


class LinkError(Exception):
    """Why a link is refused, in words for the person holding it."""


@dataclass(frozen=True)
class SignedLinks:
    salt: str
    what: str  # "download link", "report link": named in the refusals
    key: str  # the payload's key for the row id (kept stable: links already sent must still read)
    valid_for: timedelta = timedelta(hours=72)
    expired_hint: str = ""

    def make(self, row_id: int, account_id: int, issued_at: datetime | None = None) -> str:
        payload = {self.key: row_id, "a": account_id, "t": (issued_at or clock.now()).isoformat()}
        return signing.dumps(payload, salt=self.salt, compress=True)

    def read(self, token: str) -> tuple[int, int, datetime]:
        """(row id, account id, issued at), or LinkError when changed, cut short or expired."""
        try:
            doc = signing.loads(token, salt=self.salt)
            found = int(doc[self.key]), int(doc["a"]), datetime.fromisoformat(str(doc["t"]))
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise LinkError(f"This {self.what} is not valid: it was changed or cut short.") from exc
        if clock.now() > found[2] + self.valid_for:
            hours = int(self.valid_for.total_seconds() // 3600)
            hint = f" {self.expired_hint}" if self.expired_hint else ""
            raise LinkError(f"This {self.what} has expired (links are valid for {hours} hours).{hint}")
        return found
