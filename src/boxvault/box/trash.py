"""A user's Box trash, kept in the snapshot under `/<login>/.box-trash/` (issue 19).

Box purges its trash after a retention the enterprise sets; a backup keeps what was in it for as long as
the task keeps the snapshot. Box does not serve a trashed item's content (nor a trashed folder's items),
so each item in the trash is taken from the user's previous snapshot, found by its Box id: where it
last was in the live tree, or already under `.box-trash` from an earlier run. An item trashed before any
backup saw it cannot be captured; the run counts it (`trash_missed`).

Only the top level of the trash is listed (Box lists a trashed folder, not what it held): each such
item becomes `.box-trash/<name>` (a name another trashed item already took gets ` (box <id>)`), with
its subtree as it was, plus `box.trashed_at` and `box.original_path` (its path in All Files) on its
own node. Its catalog rows are the previous snapshot's rows of that subtree with the paths moved and
the type marked `trashed_<type>`: search finds them, and a trashed file no longer counts as a live one
(the mass-deletion alert sees a file moved to the trash as deleted, as Box users mean it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from box_sdk_gen.client import BoxClient

from boxvault.box.api import iter_marker_pages
from boxvault.box.catalog import CatalogEntry
from boxvault.engine.repository import Repository
from boxvault.engine.tree import Node

TRASH_DIR = ".box-trash"
TRASHED = "trashed_"  # catalog item_type prefix of a row below .box-trash
TRASH_FIELDS = "id,type,name,trashed_at"  # where it lived comes from the backup: no path_collection
ITEM_TYPES = ("file", "folder", "web_link")


@dataclass(frozen=True)
class Trashed:
    """One top-level item of a user's Box trash."""

    id: str
    type: str  # file, folder, web_link
    name: str
    trashed_at: str


def list_trash(client: BoxClient) -> tuple[list[Trashed], int]:
    """The top level of the user's trash (`GET /folders/trash/items`), and the pages it took."""
    found: list[Trashed] = []
    pages = 0
    for page in iter_marker_pages(client, "/2.0/folders/trash/items", {"fields": TRASH_FIELDS}):
        pages += 1
        for raw in page:
            kind = str(raw.get("type") or "")
            if kind not in ITEM_TYPES or not raw.get("id"):
                continue
            found.append(
                Trashed(
                    id=str(raw["id"]),
                    type=kind,
                    name=str(raw.get("name") or raw["id"]),
                    trashed_at=str(raw.get("trashed_at") or ""),
                )
            )
    return found, pages


def node_name(item: Trashed, taken: set[str]) -> str:
    """The item's name under .box-trash, unique there (compared case-insensitively, as in a walk)."""
    name = item.name.replace("/", "_")
    if name in (".", "..") or name.casefold() in taken:
        stem, dot, ext = name.rpartition(".") if item.type != "folder" else (name, "", "")
        name = f"{stem} (box {item.id}).{ext}" if dot and stem else f"{name} (box {item.id})"
    taken.add(name.casefold())
    return name


def trashed_node(node: Node, item: Trashed, name: str, was: str) -> Node:
    """The backed-up node as it now sits in the trash: same content or subtree, plus when it was trashed
    and where from (`was`: its path in the previous snapshot, used when it was not in the trash there)."""
    kept_original = node.xattr("box.original_path") if was.startswith(TRASH_DIR + "/") else None
    # a path of the backup (its node names, which may differ from Box's), else Box's own path
    original = kept_original.decode() if kept_original is not None else was
    replace = {
        "box.trashed_at": item.trashed_at.encode(),
        "box.original_path": original.encode(),
        "box.name": item.name.encode(),
    }
    kept = [(k, v) for k, v in node.extended_attributes if k not in replace]
    return dataclasses.replace(node, name=name, extended_attributes=kept + sorted(replace.items()))


def moved_rows(rows: Iterator[CatalogEntry], was: str, now: str) -> Iterator[CatalogEntry]:
    """The previous snapshot's rows of the subtree at `was`, placed at `now` and typed `trashed_*`."""
    for e in rows:
        kind = e.item_type if e.item_type.startswith(TRASHED) else TRASHED + e.item_type
        yield dataclasses.replace(e, path=now + e.path[len(was) :], item_type=kind)


def trash_item(path: str, trash: str) -> tuple[str, str] | None:
    """For a path below `trash` (the kept trash folder's path, in the caller's form): (the trashed item's
    name, the path below that item, "" for the item itself); None for any other path."""
    if not path.startswith(trash + "/"):
        return None
    top, _, below = path[len(trash) + 1 :].partition("/")
    return top, below


def original_rel(node: Node, rel_below: str) -> str | None:
    """Where a path below a trashed item lived in All Files: the item's `box.original_path` plus the rest
    (`rel_below`: the path below the item, "" for the item itself). None: not a trashed item's node."""
    raw = node.xattr("box.original_path")
    if raw is None:
        return None
    base = raw.decode("utf-8", "replace").strip("/")
    return f"{base}/{rel_below}" if rel_below else base


def trashed_from(repo: Repository, tree: bytes, trash: str, name: str, below: str = "") -> str | None:
    """Where `<trash>/<name>/<below>` lived in All Files, read from the trashed item's node in `tree`; None
    when the snapshot holds no such item, or it carries no original path."""
    node = repo.node_at(tree, f"{trash}/{name}")
    return original_rel(node, below) if node is not None else None
