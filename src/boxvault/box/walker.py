"""Walk a user's All Files from folder 0, as that user, listing folders in parallel."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from box_sdk_gen.client import BoxClient

from boxvault.box.api import iter_marker_pages
from boxvault.box.errors import describe
from boxvault.box.model import ITEM_FIELDS, BoxItem

ROOT_ID = "0"


@dataclass
class WalkError:
    item_id: str
    path: str
    error: str
    gone: bool = False  # Box answered 404/410: the folder was trashed or deleted (or left the user's reach)


def is_gone(exc: BaseException) -> bool:
    """Box answered that the item is not there (any more) for this user: 404 or 410."""
    from box_sdk_gen.box.errors import BoxAPIError

    return isinstance(exc, BoxAPIError) and exc.response_info.status_code in (404, 410)


@dataclass
class WalkStats:
    folders: int = 0
    pages: int = 0


def listed_metadata(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The instances of a listing entry's `metadata` ({scope: {templateKey: instance}}), in the order
    `GET /files|folders/{id}/metadata` gives them (by scope, then template)."""
    found = raw.get("metadata") or {}
    return [
        found[scope][template]
        for scope in sorted(found)
        if isinstance(found[scope], dict)
        for template in sorted(found[scope])
        if isinstance(found[scope][template], dict)
    ]


def _list_folder(
    client: BoxClient,
    folder: BoxItem,
    stats: WalkStats,
    lock: threading.Lock,
    extra_fields: Sequence[str] = (),
) -> list[BoxItem]:
    children: list[BoxItem] = []
    taken: set[str] = set()
    pages = 0
    for entries in iter_marker_pages(
        client, f"/2.0/folders/{folder.id}/items", {"fields": ",".join([*ITEM_FIELDS, *extra_fields])}
    ):
        pages += 1
        for raw in entries:
            if raw.get("type") not in ("file", "folder", "web_link"):
                continue
            child = BoxItem.from_json(raw, folder.id, folder.path)
            if extra_fields and child.type != "web_link":
                child.listed_metadata = listed_metadata(raw)
            unique_name(child, folder.path, taken)
            children.append(child)
    with lock:
        stats.folders += 1
        stats.pages += pages
    return children


def unique_name(item: BoxItem, parent_path: str, taken: set[str]) -> None:
    """Give the item a node name no sibling has (compared case-insensitively).

    Box keeps names unique per folder, but a user's root also shows the folders others shared with
    them, which may carry the name of one of the user's own folders; a restic tree cannot hold both.
    The node then gets "<name> (box <id>)"; `box.name` keeps Box's own name.
    """
    name = item.name.replace("/", "_")
    if name in (".", ".."):
        name = f"{name} (box {item.id})"
    if name.casefold() in taken:
        stem, dot, ext = name.rpartition(".") if item.type != "folder" else (name, "", "")
        name = f"{stem} (box {item.id}).{ext}" if dot and stem else f"{name} (box {item.id})"
    taken.add(name.casefold())
    if name != item.name:
        item.path = f"{parent_path}/{name}" if parent_path else name


def walk(
    client: BoxClient,
    *,
    workers: int = 4,
    on_error: Callable[[WalkError], None] | None = None,
    stats: WalkStats | None = None,
    root_id: str = ROOT_ID,
    root_path: str = "",
    extra_fields: Sequence[str] = (),
    on_listed: Callable[[BoxItem], None] | None = None,
) -> Iterator[BoxItem]:
    """Yield every item under `root_id` (not the root itself; its path is `root_path`); a folder before
    its children, depth first.

    A folder that cannot be listed (after the network layer's retries) is reported through
    `on_error` and yielded without children, so the rest of the tree is still backed up. `on_listed`
    is told of each folder (the root included) once all its children were yielded, or its listing
    failed: a consumer that also waits for its files can then finish the folder (post-order).
    """
    stats = stats if stats is not None else WalkStats()
    lock = threading.Lock()
    root = BoxItem(type="folder", id=root_id, name="", parent_id=None, path=root_path)
    # Listings run at most `workers` ahead of the consumer: a slow consumer (downloads) must not
    # let the listings of a 100,000-file tree pile up in memory; folders wait in `todo` instead.
    # `todo` is a stack (depth first): a subtree is done, and can be finished, before its siblings are
    # opened, so the folders open at once are those on the way down, not a whole level of the tree.
    todo: deque[BoxItem] = deque([root])
    limit = max(1, workers)
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="box-list") as pool:
        pending: dict[Future[list[BoxItem]], BoxItem] = {}
        while todo or pending:
            while todo and len(pending) < limit:
                folder = todo.pop()
                pending[pool.submit(_list_folder, client, folder, stats, lock, extra_fields)] = folder
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                folder = pending.pop(future)
                try:
                    children = future.result()
                except Exception as exc:  # noqa: BLE001 - reported per folder, the walk goes on
                    if on_error is not None:
                        on_error(
                            WalkError(
                                folder.id, folder.path, f"listing failed: {describe(exc)}", is_gone(exc)
                            )
                        )
                    if on_listed is not None:
                        on_listed(folder)
                    continue
                subfolders = []
                for child in children:
                    yield child
                    if child.type == "folder":
                        subfolders.append(child)
                del children
                todo.extend(reversed(subfolders))  # the first listed is walked first
                if on_listed is not None:
                    on_listed(folder)
