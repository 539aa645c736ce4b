"""A compact view of one Box item, taken from the raw JSON of a listing, and its restic node metadata.

Only what the backup needs is kept (a walk of 100,000 files holds all of them until the snapshot is
committed), and every Box-specific value rides in the node's `extended_attributes` under `box.*`
(see docs/box.md, "Node metadata") so a restore into Box can be rebuilt from the repository alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Requested explicitly: with `fields`, Box returns only these (plus the mini representation).
# `path_collection` is left out on purpose: the walk knows every item's path, and asking Box to
# compute the ancestors of each of thousands of entries per page costs it (and us) for nothing.
ITEM_FIELDS: tuple[str, ...] = (
    "id",
    "type",
    "name",
    "sha1",
    "file_version",
    "etag",
    "sequence_id",
    "size",
    "created_at",
    "modified_at",
    "content_created_at",
    "content_modified_at",
    "created_by",
    "modified_by",
    "owned_by",
    "parent",
    "shared_link",
    "description",
    "has_collaborations",
    "comment_count",
    "url",
    "item_status",
    "version_number",
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_INTERNED: dict[str, bytes] = {}


def intern_bytes(value: str) -> bytes:
    """UTF-8 of `value`, shared between nodes when short and common (types, authors, owners).

    A snapshot of 100,000 files keeps every node in memory until it is committed; the same owner's
    JSON in three attributes of each node would otherwise be 300,000 separate objects.
    """
    if len(value) > 300 or not (value.startswith("{") or value in ("file", "folder", "web_link")):
        return value.encode()
    found = _INTERNED.get(value)
    if found is None:
        if len(_INTERNED) > 50_000:
            _INTERNED.clear()
        found = _INTERNED[value] = value.encode()
    return found


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_USERS: dict[tuple[object, object, object], str] = {}


def user_json(value: object) -> str | None:
    """A user mini object as compact JSON ({"id","name","login"}), None when absent; one shared str
    per user, as thousands of items name the same few people."""
    if not isinstance(value, dict):
        return None
    key = (value.get("id"), value.get("name"), value.get("login"))
    found = _USERS.get(key)
    if found is None:
        if len(_USERS) > 50_000:
            _USERS.clear()
        found = _USERS[key] = _user_json(value)
    return found


def _user_json(value: dict[str, Any]) -> str:
    return json.dumps(
        {k: value.get(k) for k in ("id", "name", "login") if value.get(k) is not None},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _int(value: object) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def _str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(slots=True)
class BoxItem:
    type: str  # "file" | "folder" | "web_link"
    id: str
    name: str
    parent_id: str | None
    path: str = ""  # relative to the user's root, "/"-separated, no leading slash
    etag: str | None = None
    sequence_id: str | None = None
    sha1: str | None = None
    version_id: str | None = None
    size: int = 0
    created_at: str | None = None
    modified_at: str | None = None
    content_created_at: str | None = None
    content_modified_at: str | None = None
    created_by: str | None = None
    modified_by: str | None = None
    owned_by: str | None = None
    shared_link: str | None = None
    description: str | None = None
    url: str | None = None
    has_collaborations: bool = False
    comment_count: int = 0
    version_number: int = 0  # 1 for a file never updated; more means Box keeps previous versions
    extras: dict[str, bytes] = field(default_factory=dict)  # captured structured data, box.<kind>
    # metadata instances from the listing (`fields=metadata.<scope>.<templateKey>`); None: not asked
    listed_metadata: list[dict[str, Any]] | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any], parent_id: str | None, parent_path: str) -> BoxItem:
        name = str(raw.get("name") or raw.get("id"))
        version = raw.get("file_version")
        shared = raw.get("shared_link")
        size = raw.get("size")
        return cls(
            type=str(raw.get("type")),
            id=str(raw.get("id")),
            name=name,
            parent_id=parent_id,
            path=f"{parent_path}/{name}" if parent_path else name,
            etag=_str(raw.get("etag")),
            sequence_id=_str(raw.get("sequence_id")),
            sha1=_str(raw.get("sha1")) or (_str(version.get("sha1")) if isinstance(version, dict) else None),
            version_id=_str(version.get("id")) if isinstance(version, dict) else None,
            size=int(size) if isinstance(size, int | float) else 0,
            created_at=_str(raw.get("created_at")),
            modified_at=_str(raw.get("modified_at")),
            content_created_at=_str(raw.get("content_created_at")),
            content_modified_at=_str(raw.get("content_modified_at")),
            created_by=user_json(raw.get("created_by")),
            modified_by=user_json(raw.get("modified_by")),
            owned_by=user_json(raw.get("owned_by")),
            shared_link=json.dumps(shared, ensure_ascii=False, sort_keys=True)
            if isinstance(shared, dict)
            else None,
            description=_str(raw.get("description")) or None,
            url=_str(raw.get("url")),
            has_collaborations=bool(raw.get("has_collaborations")),
            comment_count=int(raw.get("comment_count") or 0),
            version_number=_int(raw.get("version_number")),
        )

    @property
    def mtime(self) -> datetime:
        for value in (self.content_modified_at, self.modified_at, self.created_at):
            parsed = parse_time(value)
            if parsed is not None:
                return parsed
        return EPOCH

    @property
    def ctime(self) -> datetime:
        return parse_time(self.modified_at) or self.mtime

    def xattrs(self) -> dict[str, bytes]:
        """The node's `box.*` extended attributes (values UTF-8; JSON for structured ones)."""
        values: dict[str, str | None] = {
            "box.type": self.type,
            "box.id": self.id,
            "box.etag": self.etag,
            "box.sequence_id": self.sequence_id,
            "box.sha1": self.sha1,
            "box.version_id": self.version_id,
            "box.created_at": self.created_at,
            "box.modified_at": self.modified_at,
            "box.content_created_at": self.content_created_at,
            "box.content_modified_at": self.content_modified_at,
            "box.created_by": self.created_by,
            "box.modified_by": self.modified_by,
            "box.owner": self.owned_by,
            "box.shared_link": self.shared_link,
            "box.description": self.description,
            "box.url": self.url,
        }
        if self.path.rpartition("/")[2] != self.name:
            values["box.name"] = self.name  # the node's name had to differ (see walker.unique_name)
        out = {k: intern_bytes(v) for k, v in values.items() if v is not None}
        out.update(self.extras)
        return out

    def web_link_content(self) -> bytes:
        """A web link has no content on Box; its node is a small JSON file holding what recreates it."""
        return json.dumps(
            {"type": "web_link", "url": self.url, "name": self.name, "description": self.description},
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
