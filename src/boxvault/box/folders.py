"""One page of a Box user's folders, for choosing where a restore goes (the portal's folder picker)."""

from __future__ import annotations

from dataclasses import dataclass

from box_sdk_gen.client import BoxClient
from box_sdk_gen.managers.folders import GetFolderItemsDirection, GetFolderItemsSort

PAGE = 100


@dataclass(frozen=True)
class FolderPage:
    id: str
    name: str
    path: list[tuple[str, str]]  # the ancestors as (id, name), All Files first; empty for All Files itself
    folders: list[tuple[str, str]]  # this page of subfolders as (id, name), by name
    next_offset: int | None  # where the next page starts; None when this was the last


def list_subfolders(client: BoxClient, folder_id: str, offset: int = 0, limit: int = PAGE) -> FolderPage:
    """The folder's name and path and one page of its subfolders, as the client's user sees them.

    Box sorts a folder's items by type first (folders, then files, then web links), then by the given sort,
    so the subfolders are the first entries: a page holding anything but folders is the last one.
    """
    folder = client.folders.get_folder_by_id(folder_id, fields=["id", "name", "path_collection"])
    items = client.folders.get_folder_items(
        folder_id,
        fields=["id", "name", "type"],
        offset=offset,
        limit=limit,
        sort=GetFolderItemsSort.NAME,
        direction=GetFolderItemsDirection.ASC,
    )
    entries = items.entries or []
    folders = [(e.id, e.name or e.id) for e in entries if getattr(e, "type", None) == "folder"]
    total = items.total_count or 0
    more = len(folders) == len(entries) and len(entries) == limit and offset + limit < total
    ancestors = folder.path_collection.entries if folder.path_collection else []
    path = [(a.id, "All Files" if a.id == "0" else (a.name or a.id)) for a in ancestors]
    name = "All Files" if folder.id == "0" else (folder.name or folder.id)
    return FolderPage(folder.id, name, path, folders, offset + limit if more else None)
