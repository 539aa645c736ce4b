"""What a restore into Box is made of (options, outcomes, the report) and the helpers that read a backed-up
node's Box attributes; shared by the restorer (`restore.py`) and what it re-applies (`reapply.py`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from box_sdk_gen import BoxClient
from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError

from boxvault.engine.tree import Node

CHUNK_THRESHOLD = 20 * 2**20
VERSIONS_DIR = ".box-versions"


class Mode(StrEnum):
    NON_DESTRUCTIVE = "non_destructive"
    REPLACE = "replace"
    BYPASS = "bypass"


@dataclass
class Options:
    mode: Mode = Mode.NON_DESTRUCTIVE
    folder_id: str = "0"  # the destination folder (of the destination user)
    restored_folder_name: str = ""  # non-destructive: the new folder's name ("Restored ..." by default)
    collaborations: bool = False  # reapply the captured collaborations
    metadata: bool = False  # reapply the captured metadata instances
    shared_links: bool = False  # re-create the captured shared links (Box gives them new URLs)
    comments: bool = False  # post the captured comments again on restored files
    # a client acting as another Box user (a comment's author posts it again when they still can)
    client_for: Callable[[str], BoxClient] | None = None
    # creates a deleted enterprise metadata template again: (scope, key) -> None when done, else why not;
    # None: the task does not allow it
    recreate_template: Callable[[str, str], str | None] | None = None
    chunk_threshold: int = CHUNK_THRESHOLD
    # items kept from the user's Box trash (below .box-trash, box/trash.py) go back to where they were
    # trashed from; only when the selection names them (a whole user's restore brings back what was live)
    trash: bool = False
    # and Box's own restore-from-trash is tried first (same user, in place): the item keeps its id,
    # versions, comments and links; an upload to its original path when Box no longer has it
    untrash: bool = False
    # ".box-trash/<name>" -> where that item was trashed from, for selections inside a trashed folder
    # (the walk then never yields the item's own node, which carries it)
    trash_places: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    path: str  # relative to the selection's user root
    kind: str  # file, folder, web_link
    action: str  # created, new_version, unchanged, skipped, merged, failed
    box_id: str = ""
    size: int = 0
    error: str = ""


@dataclass
class Report:
    items: int = 0
    bytes: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: bool = False
    root_folder_id: str = ""
    outcomes: list[Outcome] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)  # {path, old_url, new_url, access, note}
    # collaborations and metadata instances that could not be put back: {path, what, reason}
    not_reapplied: list[dict[str, str]] = field(default_factory=list)


class RestoreError(Exception):
    pass


def xattr_text(node: Node, name: str) -> str | None:
    raw = node.xattr(name)
    return raw.decode("utf-8", "replace") if raw is not None else None


def node_kind(node: Node) -> str:
    declared = xattr_text(node, "box.type")
    if declared:
        return declared
    return "folder" if node.type == "dir" else "file"


def xattr_time(node: Node, name: str) -> datetime | None:
    text = xattr_text(node, name)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def describe(exc: BaseException) -> str:
    if isinstance(exc, BoxAPIError):
        info = exc.response_info
        return f"Box answered {info.status_code} {info.code or ''}".strip()
    if isinstance(exc, BoxSDKError):
        return str(exc.message)[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def conflict_id(exc: BoxAPIError) -> tuple[str, str] | None:
    """(type, id) of the item a 409 item_name_in_use names (a list for folders, an object for uploads)."""
    info = exc.response_info.context_info or {}
    conflicts: Any = info.get("conflicts")
    if isinstance(conflicts, list):
        conflicts = conflicts[0] if conflicts else None
    if isinstance(conflicts, dict) and conflicts.get("id"):
        return str(conflicts.get("type", "")), str(conflicts["id"])
    return None


class NameTaken(Exception):
    def __init__(self, file_id: str) -> None:
        super().__init__(file_id)
        self.file_id = file_id


@dataclass
class ListedEntry:
    kind: str
    id: str
    sha1: str = ""
