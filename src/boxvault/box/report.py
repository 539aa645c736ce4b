"""What a run did, per user and in total; partial success is a state, not an exception."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SUCCEEDED = "succeeded"
PARTIAL = "partially_succeeded"
FAILED = "failed"


@dataclass
class ItemFailure:
    item_id: str
    path: str
    error: str


@dataclass
class UserReport:
    box_user_id: str
    login: str
    status: str = SUCCEEDED
    snapshot_id: str | None = None
    files: int = 0  # files (and web links) in the snapshot
    web_links: int = 0
    folders: int = 0
    bytes: int = 0  # total size of the files in the snapshot
    downloaded: int = 0  # files whose content was downloaded in this run
    downloaded_bytes: int = 0
    reused: int = 0  # files whose blob list was reused (already in the repository)
    versions: int = 0  # previous Box versions kept (with --versions)
    trashed: int = 0  # items kept under .box-trash (what is in the user's Box trash, with what it holds)
    trash_missed: int = 0  # items in the Box trash that no backup saw before they were trashed
    failed: int = 0
    duration: float = 0.0
    listing_pages: int = 0
    unchanged: bool = False  # the events stream showed no change: the previous tree was reused as is
    vanished: int = 0  # files trashed or deleted between their listing and their download: not stored
    relocated: int = 0  # items listed at two places during the run (moved meanwhile): one place kept
    full_walk: bool = False  # every folder was listed in this run
    # a scheduled full walk compared with what the incremental path would have stored (None: not compared)
    divergent: int | None = None
    divergent_items: list[dict[str, Any]] = field(default_factory=list)  # the first few, for the log
    failures: list[ItemFailure] = field(default_factory=list)
    error: str | None = None  # the whole user failed (no snapshot)

    def fail_item(self, item_id: str, path: str, error: str) -> None:
        self.failed += 1
        self.failures.append(ItemFailure(item_id, path, error))
        if self.status == SUCCEEDED:
            self.status = PARTIAL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunReport:
    status: str
    users: list[UserReport]
    requests: dict[str, Any]
    user_changes: dict[str, Any] | None = None
    duration: float = 0.0
    listing_pages: int = 0  # pages of the users list and of every folder listing

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "duration": self.duration,
            "users": [u.to_json() for u in self.users],
            "requests": self.requests,
            "user_changes": self.user_changes,
            "listing_pages": self.listing_pages,
            "totals": {
                k: sum(getattr(u, k) for u in self.users)
                for k in ("files", "web_links", "bytes", "downloaded", "downloaded_bytes", "reused", "failed")
            },
        }


def overall(users: list[UserReport]) -> str:
    if not users:
        return SUCCEEDED
    if all(u.status == FAILED for u in users):
        return FAILED
    if all(u.status == SUCCEEDED for u in users):
        return SUCCEEDED
    return PARTIAL
