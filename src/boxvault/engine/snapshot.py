"""Snapshots with restic's field names and order (design.rst "Snapshots"; internal/restic/snapshot.go).

restic 0.14 ignores fields it does not know, so ``program_version`` and ``summary`` (restic >= 0.17) are
written too; a snapshot read from a newer restic keeps unknown fields when it is rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import gojson


@dataclass
class Snapshot:
    time: str
    tree: bytes
    paths: list[str]
    hostname: str = ""
    username: str = ""
    uid: int = 0
    gid: int = 0
    excludes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    parent: bytes | None = None
    original: bytes | None = None
    program_version: str = ""
    summary: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # storage id (file name), set when loaded or saved

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def datetime(self) -> datetime:
        return gojson.parse_datetime(self.time)

    @property
    def time_ns(self) -> int:
        return gojson.parse_time(self.time)[0]

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"time": self.time}
        if self.parent is not None:
            d["parent"] = self.parent.hex()
        d["tree"] = self.tree.hex()
        d["paths"] = list(self.paths)
        if self.hostname:
            d["hostname"] = self.hostname
        if self.username:
            d["username"] = self.username
        if self.uid:
            d["uid"] = self.uid
        if self.gid:
            d["gid"] = self.gid
        if self.excludes:
            d["excludes"] = list(self.excludes)
        if self.tags:
            d["tags"] = list(self.tags)
        if self.original is not None:
            d["original"] = self.original.hex()
        if self.program_version:
            d["program_version"] = self.program_version
        if self.summary is not None:
            d["summary"] = self.summary
        for key, value in self.extra.items():
            d.setdefault(key, value)
        return d

    def to_listing(self) -> dict[str, Any]:
        """``restic snapshots --json``: the document plus ``id`` and ``short_id``."""
        d = self.to_json()
        d["id"] = self.id
        d["short_id"] = self.short_id
        return d

    @classmethod
    def from_json(cls, d: Any, snapshot_id: str = "") -> Snapshot:
        if not isinstance(d, dict) or "tree" not in d or "time" not in d:
            raise ValueError("snapshot is not a JSON object with time and tree")
        known = {"time", "parent", "tree", "paths", "hostname", "username", "uid", "gid", "excludes", "tags",
                 "original", "program_version", "summary"}  # fmt: skip
        gojson.parse_time(d["time"])
        return cls(
            time=d["time"],
            tree=bytes.fromhex(d["tree"]),
            paths=list(d.get("paths") or []),
            hostname=d.get("hostname") or "",
            username=d.get("username") or "",
            uid=int(d.get("uid") or 0),
            gid=int(d.get("gid") or 0),
            excludes=list(d.get("excludes") or []),
            tags=list(d.get("tags") or []),
            parent=bytes.fromhex(d["parent"]) if d.get("parent") else None,
            original=bytes.fromhex(d["original"]) if d.get("original") else None,
            program_version=d.get("program_version") or "",
            summary=d.get("summary"),
            extra={k: v for k, v in d.items() if k not in known},
            id=snapshot_id,
        )

    def matches(self, host: str | None, tags: list[str] | None, paths: list[str] | None) -> bool:
        """Host equal, every given tag present, every given path present (restic's filter for one --tag)."""
        if host is not None and self.hostname != host:
            return False
        if tags and not all(t in self.tags for t in tags):
            return False
        return not paths or all(p in self.paths for p in paths)
