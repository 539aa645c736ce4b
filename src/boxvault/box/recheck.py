"""Folders renamed or moved while the walk ran are listed again, where Box shows them now.

A walk composes each item's path from the names its folders had when *their* parents were listed. A
folder renamed or moved between its own placement and the listing of something below it would otherwise
put that item at a path it never had (the folder's old name above a child that arrived after the rename).
After the walk, the user's events since the position taken before it name such folders; each one still
in the snapshot is taken out with its subtree and listed again under its current parent (a folder whose
new parent is itself listed again comes along with it; one whose new place the snapshot does not hold is
left out, for the next run's events to bring back). One round: a change during this second listing is
the next run's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from box_sdk_gen.client import BoxClient

from boxvault.box.api import get_json
from boxvault.box.incremental import read_changes
from boxvault.box.model import ITEM_FIELDS, BoxItem
from boxvault.box.placement import Placements
from boxvault.box.walker import ROOT_ID


@dataclass
class Rewalk:
    take_out: list[str] = field(default_factory=list)  # paths leaving the snapshot (with their subtrees)
    walk: list[BoxItem] = field(default_factory=list)  # folders to list again, at their place now
    pages: int = 0


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def raced_folders(client: BoxClient, position: str) -> tuple[set[str], int]:
    """Folders named by the user's events after `position` (and the requests it took)."""
    changes = read_changes(client, position)
    ids: set[str] = set()
    for ev in changes.events:
        src = ev.get("source") if isinstance(ev, dict) else None
        if isinstance(src, dict) and src.get("type") == "folder" and src.get("id"):
            ids.add(str(src["id"]))
    return ids, changes.pages


def plan_rewalk(
    client: BoxClient,
    user_id: str,
    placements: Placements,
    raced: set[str],
    extra_fields: Sequence[str] = (),
) -> Rewalk:
    out = Rewalk()
    placed = {fid: [p.path for p in placements.live(fid)] for fid in sorted(raced)}
    placed = {fid: paths for fid, paths in placed.items() if paths}
    for paths in placed.values():
        out.take_out.extend(paths)
    for fid in placed:
        try:
            raw: dict[str, Any] = get_json(
                client, f"/2.0/folders/{fid}", {"fields": ",".join([*ITEM_FIELDS, *extra_fields])}
            )
        except Exception:  # noqa: BLE001, S112 - gone or out of reach: it stays out
            continue
        if raw.get("item_status") not in (None, "active"):
            continue
        parent = str((raw.get("parent") or {}).get("id") or ROOT_ID)
        if parent in placed:
            continue  # listed again with its parent
        parent_path = "" if parent == ROOT_ID else placements.placed_path(parent)
        owner = str((raw.get("owned_by") or {}).get("id") or "")
        if parent_path is None and owner != user_id and all("/" not in path for path in placed[fid]):
            # a folder shared with the user sits in the user's root, below a parent the user does not see
            parent_path = ""
        if parent_path is None or _under(parent_path, out.take_out):
            continue  # a place the snapshot does not hold, or one listed again anyway
        out.walk.append(BoxItem.from_json(raw, parent, parent_path))
    return out
