"""Relist only the folders a user's events stream names (incremental runs).

All events after the position saved with the user's previous snapshot are read. Each event marks
for relisting: the parent of its source item (its new place) and the item's old parent (from the
previous snapshot's catalog); a folder named in an event has its whole subtree listed again (a
rename or move changes every path below it). The new tree is then built from the previous one:
subtrees with nothing marked inside are reused as they are (their tree blobs and catalog rows),
folders on the way to a marked one take their children from the previous tree, and marked folders
are listed. Any event type not known here, or a source that is not an item, means a full walk.
"""

from __future__ import annotations

import marshal
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from box_sdk_gen.client import BoxClient

from boxvault.box.api import get_json
from boxvault.box.catalog import CatalogEntry
from boxvault.box.walker import ROOT_ID

PAGE = 500

# events whose effect is confined to the source item and its parents
KNOWN_EVENTS = frozenset(
    {
        "ITEM_CREATE",
        "ITEM_UPLOAD",
        "ITEM_RENAME",
        "ITEM_MOVE",
        "ITEM_COPY",
        "ITEM_MODIFY",
        "ITEM_TRASH",
        "ITEM_UNDELETE_VIA_TRASH",
        "DELETE",
        "COLLAB_ADD_COLLABORATOR",
        "COLLAB_REMOVE_COLLABORATOR",
        "COLLAB_INVITE_COLLABORATOR",
        "COLLABORATION_ROLE_CHANGE",
        "COMMENT_CREATE",
        "COMMENT_DELETE",
        "ITEM_SHARED_CREATE",
        "ITEM_SHARED_UPDATE",
        "ITEM_SHARED_UNSHARE",
        "ITEM_SYNC",
        "ITEM_UNSYNC",
        "ITEM_PREVIEW",
        "ITEM_DOWNLOAD",
        "LOCK_CREATE",
        "LOCK_DESTROY",
    }
)
ITEM_TYPES = ("file", "folder", "web_link")


class NeedFullWalk(Exception):
    """The events cannot be mapped to folders safely."""


@dataclass
class Changes:
    events: list[dict[str, Any]]
    position: str  # the end of the stream as of this read
    pages: int


def read_changes(client: BoxClient, position: str) -> Changes:
    """Every `changes` event after `position` (a lost window raises, as Box answers an error), each once.

    Box delivers a user's events at least once and not always in order (duplicates carry the same
    `event_id`): duplicates are dropped here, and nothing downstream depends on the order, since an
    event only names folders to list again and the listing shows the item's current state.
    """
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    pages = 0
    while True:
        data = get_json(
            client, "/2.0/events", {"stream_type": "changes", "stream_position": position, "limit": PAGE}
        )
        pages += 1
        entries = data.get("entries") or []
        for ev in entries:
            key = str(ev.get("event_id") or "") if isinstance(ev, dict) else ""
            if key and key in seen:
                continue
            seen.add(key)
            events.append(ev)
        nxt = str(data.get("next_stream_position") or position)
        if len(entries) < PAGE or nxt == position:
            return Changes(events, nxt, pages)
        position = nxt


@dataclass
class Plan:
    relist: set[str] = field(default_factory=set)  # folder ids whose children are listed again
    subtrees: set[str] = field(default_factory=set)  # folder ids whose whole subtree is listed again
    descend: set[str] = field(default_factory=set)  # folder ids with a marked folder at or below them


def _parent_path(path: str) -> str:
    return path.rpartition("/")[0]


def make_plan(events: Iterable[dict[str, Any]], old: OldEntries) -> Plan:
    folder_by_path = old.folders_by_path()
    folder_by_path[""] = ROOT_ID
    known_folders = set(folder_by_path.values())
    plan = Plan()
    for ev in events:
        if ev.get("event_type") not in KNOWN_EVENTS:
            raise NeedFullWalk(f"event {ev.get('event_type')!r}")
        src = ev.get("source") or {}
        if src.get("type") not in ITEM_TYPES or not src.get("id"):
            raise NeedFullWalk(f"event source {src.get('type')!r}")
        sid = str(src["id"])
        parent = str((src.get("parent") or {}).get("id") or "")
        # a parent this user does not see (the owner's folder above a folder shared with this user,
        # whose copy sits in this user's root): the root is relisted
        plan.relist.add(parent if parent in known_folders else ROOT_ID)
        previous = old.item_path(sid)
        if previous is not None:
            plan.relist.add(folder_by_path.get(_parent_path(previous), ROOT_ID))
        if src["type"] == "folder":
            plan.subtrees.add(sid)
            plan.relist.add(sid)
    # every folder on the way to a marked one (by its previous path) is descended into
    path_of = {fid: p for p, fid in folder_by_path.items()}
    for fid in plan.relist | plan.subtrees:
        plan.descend.add(ROOT_ID)
        path = path_of.get(fid)
        while path:
            plan.descend.add(folder_by_path.get(path, ROOT_ID))
            path = _parent_path(path)
    return plan


class OldEntries:
    """The previous snapshot's catalog rows, by path, to carry over with reused subtrees.

    They live in a private temporary SQLite file indexed by path and item id, not in memory: a
    million-row user costs its folders' paths and the rows being carried, not every row (issue 18).
    Read from the walking thread only."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        # "" opens a private on-disk database that SQLite deletes when it is closed
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE rows (path TEXT, item_id TEXT, item_type TEXT, row BLOB)"
        )
        self.count = 0
        batch: list[tuple[str, str, str, bytes]] = []
        self._db.execute("BEGIN")
        for e in entries:
            batch.append((e.path, e.item_id, e.item_type, marshal.dumps(e.values())))
            if len(batch) >= 5000:
                self._insert(batch)
        self._insert(batch)
        self._db.execute("COMMIT")
        self._db.executescript("CREATE INDEX by_path ON rows (path); CREATE INDEX by_id ON rows (item_id);")

    def _insert(self, batch: list[tuple[str, str, str, bytes]]) -> None:
        self._db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?)", batch)
        self.count += len(batch)
        batch.clear()

    def close(self) -> None:
        self._db.close()

    def _rows(self, sql: str, params: tuple[object, ...]) -> Iterator[CatalogEntry]:
        cursor = self._db.execute(sql, params)
        while rows := cursor.fetchmany(1000):
            for (raw,) in rows:
                yield CatalogEntry(*marshal.loads(raw))  # noqa: S302 - our own private temporary file  # nosec B302

    def folders_by_path(self) -> dict[str, str]:
        """path -> folder id, of every folder."""
        found = self._db.execute("SELECT path, item_id FROM rows WHERE item_type = 'folder' ORDER BY rowid")
        return dict(found)

    def folder_paths(self) -> dict[str, str]:
        """folder id -> path, of every folder."""
        return {fid: path for path, fid in self.folders_by_path().items()}

    def item_path(self, item_id: str) -> str | None:
        """The path of a file, folder or web link (not a version)."""
        row = self._db.execute(
            "SELECT path FROM rows WHERE item_id = ? AND item_type IN ('file', 'folder', 'web_link') "
            "ORDER BY rowid DESC LIMIT 1",
            (item_id,),
        ).fetchone()
        return str(row[0]) if row else None

    def place_of(self, item_id: str, item_type: str) -> str | None:
        """The path of an item, live or already in the trash (trash.py), in the previous snapshot."""
        row = self._db.execute(
            "SELECT path FROM rows WHERE item_id = ? AND item_type IN (?, ?) ORDER BY rowid DESC LIMIT 1",
            (item_id, item_type, "trashed_" + item_type),
        ).fetchone()
        return str(row[0]) if row else None

    def exact(self, path: str) -> Iterator[CatalogEntry]:
        return self._rows("SELECT row FROM rows WHERE path = ? ORDER BY rowid", (path,))

    def subtree(self, path: str) -> Iterator[CatalogEntry]:
        """The row(s) at `path` and every row below it."""
        yield from self.exact(path)
        # "0" sorts right after "/": the range holds exactly the paths under `path/`
        yield from self._rows(
            "SELECT row FROM rows WHERE path >= ? AND path < ? ORDER BY path, rowid", (path + "/", path + "0")
        )
