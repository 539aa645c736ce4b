"""One Box item, one place: a snapshot never holds the same Box file, folder or web link id twice.

Box has no snapshot: a folder listed before an item moved out of it and the folder it moved into listed
after both show the item (a whole subtree, for a folder), and a reused subtree of the previous snapshot
can still hold an item that a relisted folder now shows elsewhere. Every placement of a run is recorded
(id, path, name, type); after the walk, each id placed more than once is settled by asking Box for the
item as the user: the placement under the item's current parent (and with its current name, when two
share the parent) wins, the others are taken out of the snapshot with everything below them. An item
Box no longer shows the user keeps its latest placement (a path it had during the run; the next run's
events remove it).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from box_sdk_gen.client import BoxClient

from boxvault.box.api import get_json
from boxvault.box.catalog import CatalogEntry
from boxvault.box.download import ContentGone
from boxvault.box.walker import ROOT_ID

ITEM_TYPES = ("file", "folder", "web_link")
_ENDPOINT = {"file": "files", "folder": "folders", "web_link": "web_links"}


@dataclass(frozen=True)
class Place:
    path: str  # relative to the user's root, as in the catalog
    name: str  # Box's name (the node name may differ: `walker.unique_name`)
    type: str
    order: int  # when it was placed during the run


@dataclass(frozen=True)
class Current:
    """Where Box shows the item now (None: not at all, for this user)."""

    parent_id: str
    name: str


def _parent_path(path: str) -> str:
    return path.rpartition("/")[0]


def _below(path: str, prefixes: dict[str, int], mark: int) -> bool:
    """Is `path` at or below a path taken out after `mark` (a place's order or a catalog row's index)
    was given? What a later listing put back at the same path stays."""
    while path:
        cutoff = prefixes.get(path)
        if cutoff is not None and mark < cutoff:
            return True
        path = _parent_path(path)
    return False


class Placements:
    """The first place of every item and the path of every folder live in a private temporary SQLite file
    (a million-file user would otherwise hold a million paths in memory, issue 18); the items placed more
    than once, few, are kept here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sqlite: sqlite3.Connection | None = None  # opened on first use: a no-change run never needs it
        self._more: dict[str, list[Place]] = {}  # ids placed more than once
        self._order = 0
        # paths taken out of the snapshot (with everything below): the place order and the catalog row
        # count at that time (what was placed there later stays)
        self.removed: dict[str, int] = {}
        self.removed_rows: dict[str, int] = {}

    def add(self, item_id: str, item_type: str, path: str, name: str) -> None:
        if item_type not in ITEM_TYPES:
            return  # file versions share their file's id, under .box-versions/
        with self._lock:
            self._order += 1
            place = Place(path, name, item_type, self._order)
            db = self._db
            if item_type == "folder":
                db.execute("INSERT OR REPLACE INTO folder VALUES (?, ?)", (path, item_id))
            # a place at the same path counts once, unless that path was taken out since: then the item
            # is back there (a folder listed again after a rename raced the walk, recheck.py), and the
            # new place is the one `live` must see
            more = self._more.get(item_id)
            if more is not None:
                if not any(p.path == path and not self._taken_out(p) for p in more):
                    more.append(place)
                return
            inserted = db.execute(
                "INSERT OR IGNORE INTO first VALUES (?, ?, ?, ?, ?)",
                (item_id, path, name, item_type, place.order),
            ).rowcount
            if inserted:
                return
            first = self._first(item_id)
            if first is not None and (first.path != path or self._taken_out(first)):
                self._more[item_id] = [first, place]

    def _taken_out(self, place: Place) -> bool:
        return bool(self.removed) and _below(place.path, self.removed, place.order)

    @property
    def _db(self) -> sqlite3.Connection:
        if self._sqlite is None:
            # "" opens a private on-disk database that SQLite deletes when it is closed
            db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
            db.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "CREATE TABLE first (id TEXT PRIMARY KEY, path TEXT, name TEXT, type TEXT, ord INTEGER)"
                " WITHOUT ROWID;"
                "CREATE TABLE folder (path TEXT PRIMARY KEY, id TEXT) WITHOUT ROWID;"
                "CREATE INDEX folder_id ON folder (id);"
            )
            db.execute("INSERT INTO folder VALUES ('', ?)", (ROOT_ID,))
            self._sqlite = db
        return self._sqlite

    def _first(self, item_id: str) -> Place | None:
        row = self._db.execute("SELECT path, name, type, ord FROM first WHERE id = ?", (item_id,)).fetchone()
        return Place(*row) if row else None

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None

    def duplicates(self) -> dict[str, list[Place]]:
        with self._lock:
            return {k: list(v) for k, v in self._more.items()}

    def take_out(self, path: str, rows: int) -> None:
        """`path` leaves the snapshot, with everything below it placed so far (`rows`: the catalog rows
        spooled so far)."""
        with self._lock:
            self.removed[path] = self._order + 1
            self.removed_rows[path] = rows

    def live(self, item_id: str) -> list[Place]:
        """The places of an item still in the snapshot."""
        with self._lock:
            places = self._more.get(item_id)
            if places is None:
                first = self._first(item_id)
                places = [first] if first is not None else []
        return [p for p in places if not _below(p.path, self.removed, p.order)]

    def placed_path(self, item_id: str) -> str | None:
        places = self.live(item_id)
        return places[-1].path if len(places) == 1 else None

    def parent_id(self, place: Place) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM folder WHERE path = ?", (_parent_path(place.path),)
            ).fetchone()
        return str(row[0]) if row else None

    def _is_folder(self, folder_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM folder WHERE id = ?", (folder_id,)).fetchone() is not None

    def settle(self, lookup: Callable[[str, str], Current | None], rows: int) -> list[str]:
        """Decide every duplicate (outermost first: taking out a folder settles its subtree's copies);
        returns the paths to take out of the snapshot."""
        dups = self.duplicates()
        order = sorted(dups, key=lambda i: min(p.path.count("/") for p in dups[i]))
        out: list[str] = []
        for item_id in order:
            places = self.live(item_id)
            if len(places) < 2:
                continue
            winner = self.choose(places, lookup(item_id, places[0].type))
            for p in places:
                if p is not winner:
                    self.take_out(p.path, rows)
                    out.append(p.path)
        return out

    def choose(self, places: list[Place], current: Current | None) -> Place:
        latest = max(places, key=lambda p: p.order)
        if current is None:
            return latest
        # a parent the user does not see (the owner's folder above a folder shared with the user): the
        # item shows in the user's root
        want = current.parent_id if self._is_folder(current.parent_id) else ROOT_ID
        under = [p for p in places if self.parent_id(p) == want]
        named = [p for p in under if p.name == current.name]
        for group in (named, under):
            if group:
                return max(group, key=lambda p: p.order)
        return latest

    def keep(
        self, entries: Iterable[CatalogEntry], dropped: Callable[[CatalogEntry], None]
    ) -> Iterator[CatalogEntry]:
        """The catalog rows of what stays in the snapshot (`dropped` is told of the others)."""
        removed = self.removed_rows
        for index, e in enumerate(entries):
            if not removed or not _below(e.path, removed, index):
                yield e
            else:
                dropped(e)


def lookup_item(client: BoxClient) -> Callable[[str, str], Current | None]:
    """Asks Box where the item is now, as the user; None when the user cannot see it (gone, trashed)."""

    def ask(item_id: str, item_type: str) -> Current | None:
        try:
            data: dict[str, Any] = get_json(
                client, f"/2.0/{_ENDPOINT[item_type]}/{item_id}", {"fields": "id,name,parent,item_status"}
            )
        except Exception:  # noqa: BLE001 - 404 (gone), 403 (out of reach): not anywhere for this user
            return None
        if data.get("item_status") not in (None, "active"):
            return None
        parent = data.get("parent") or {}
        return Current(str(parent.get("id") or ROOT_ID), str(data.get("name") or ""))

    return ask


def gone(exc: BaseException) -> bool:
    """Box answered that the item is not there (any more) for this user: 404 or 410."""
    from box_sdk_gen.box.errors import BoxAPIError

    if isinstance(exc, ContentGone):
        return True
    return isinstance(exc, BoxAPIError) and exc.response_info.status_code in (404, 410)
