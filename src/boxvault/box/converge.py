"""The scheduled full walk that proves the incremental path (docs/box.md, "Scheduled full walk").

Every `full_walk_days` a user's run lists everything instead of only what the events name. That run also
reads the events since the previous snapshot, as an incremental run would, and works out what the
incremental path would have stored: the previous snapshot's items, except below the folders the events
name, where the full walk's own listing stands in for the relisting (exactly what
`backup._UserBackup._incremental_items` would list, without asking Box again). The full walk is what is
stored (so any difference is healed in that same snapshot); the items whose id, path or sha1 differ
between the two are counted as divergent: a divergence above zero means the events path missed
something (a bug report the operator can read), not a change.

A change made while the full walk runs is neither: the events after the run's position are read once
more after the walk, and the items they name (or that sit below a folder they name) are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from boxvault.box.catalog import CatalogEntry
from boxvault.box.incremental import ITEM_TYPES, Plan
from boxvault.box.walker import ROOT_ID

Seen = tuple[str, str, str | None]  # (type, path, sha1)


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _leaf(path: str) -> str:
    return path.rpartition("/")[2]


class _Tree:
    """Catalog rows of one snapshot, by parent path."""

    def __init__(self, rows: Iterable[CatalogEntry]) -> None:
        self.kids: dict[str, list[CatalogEntry]] = defaultdict(list)
        self.rows: list[CatalogEntry] = []
        for e in rows:
            if e.item_type in ITEM_TYPES:
                self.kids[_parent(e.path)].append(e)
                self.rows.append(e)

    def below(self, path: str) -> Iterator[CatalogEntry]:
        todo = [path]
        while todo:
            for e in self.kids.get(todo.pop(), ()):
                yield e
                if e.item_type == "folder":
                    todo.append(e.path)


def would_store(plan: Plan, old: Iterable[CatalogEntry], new: Iterable[CatalogEntry]) -> dict[str, Seen]:
    """What an incremental run with `plan` would have stored, by id, had it listed what the full walk
    listed (`new`) in the folders it relists, and taken everything else from `old`."""
    before, now = _Tree(old), _Tree(new)
    out: dict[str, Seen] = {}

    def put(e: CatalogEntry, path: str) -> None:
        out.setdefault(e.item_id, (e.item_type, path, e.sha1))

    def carry(old_path: str, new_path: str) -> None:
        # a reused subtree: the previous rows, under the folder's place now
        for e in before.below(old_path):
            put(e, new_path + e.path[len(old_path) :])

    def fresh(path: str) -> None:
        for e in now.below(path):
            put(e, e.path)

    def visit(folder_id: str, path: str, old_path: str | None) -> None:
        if folder_id in plan.subtrees or old_path is None:
            fresh(path)
            return
        if folder_id in plan.relist:
            previous = {e.item_id: e for e in before.kids.get(old_path, ()) if e.item_type == "folder"}
            for child in now.kids.get(path, ()):
                put(child, child.path)
                if child.item_type != "folder":
                    continue
                prev = previous.get(child.item_id)
                if prev is None or child.item_id in plan.descend:
                    visit(child.item_id, child.path, prev.path if prev is not None else None)
                else:
                    carry(prev.path, child.path)
            return
        for e in before.kids.get(old_path, ()):
            here = f"{path}/{_leaf(e.path)}" if path else _leaf(e.path)
            put(e, here)
            if e.item_type != "folder":
                continue
            if e.item_id in plan.descend:
                visit(e.item_id, here, e.path)
            else:
                carry(e.path, here)

    visit(ROOT_ID, "", "")
    return out


def _named(events: Iterable[dict[str, Any]]) -> set[str]:
    ids: set[str] = set()
    for ev in events:
        src = ev.get("source") or {}
        if isinstance(src, dict) and src.get("id"):
            ids.add(str(src["id"]))
            parent = src.get("parent") or {}
            if isinstance(parent, dict) and parent.get("id"):
                ids.add(str(parent["id"]))
    return ids


@dataclass
class Proof:
    """Collects the full walk's rows as they are written to the catalog, then compares."""

    plan: Plan
    old: list[CatalogEntry]
    rows: list[CatalogEntry] = field(default_factory=list)

    def collect(self, entries: Iterable[CatalogEntry]) -> Iterator[CatalogEntry]:
        for e in entries:
            if e.item_type in ITEM_TYPES:
                self.rows.append(e)
            yield e

    def divergent(self, during: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        """The items stored differently by the full walk than by the incremental path (by id, path and
        sha1), except those changed while the run went on (named by `during`, the events after the run's
        position, directly or through a folder above them)."""
        walked: dict[str, Seen] = {e.item_id: (e.item_type, e.path, e.sha1) for e in self.rows}
        incremental = would_store(self.plan, self.old, self.rows)
        changed = _named(during)
        folder_at = {e.path: e.item_id for e in [*self.old, *self.rows] if e.item_type == "folder"}

        def touched(item_id: str, *paths: str) -> bool:
            if item_id in changed:
                return True
            for path in paths:
                path = _parent(path)
                while path:
                    if folder_at.get(path) in changed:
                        return True
                    path = _parent(path)
            return False

        out: list[dict[str, Any]] = []
        for item_id in sorted(set(walked) | set(incremental)):
            a, b = walked.get(item_id), incremental.get(item_id)
            if a == b:
                continue
            paths = [s[1] for s in (a, b) if s is not None]
            if touched(item_id, *paths):
                continue
            out.append(
                {
                    "item_id": item_id,
                    "type": (a or b or ("", "", None))[0],
                    "path": a[1] if a else None,
                    "sha1": a[2] if a else None,
                    "incremental_path": b[1] if b else None,
                    "incremental_sha1": b[2] if b else None,
                }
            )
        return out


def make_proof(events: list[dict[str, Any]], old: list[CatalogEntry]) -> Proof | None:
    """A comparison for this full walk, or None when the incremental path would not have run either
    (no previous catalog, an event it cannot map: it would have walked everything too)."""
    from boxvault.box.incremental import NeedFullWalk, OldEntries, make_plan

    if not old:
        return None
    rows = OldEntries(old)
    try:
        plan = make_plan(events, rows)
    except NeedFullWalk:
        return None
    finally:
        rows.close()
    return Proof(plan, old)
