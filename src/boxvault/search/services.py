"""Item search: the catalog rows of one task matching a word/phrase, a name, an author and dates.

Each result is one version of an item (a catalog row) and the snapshots that hold it: the row is valid
from snapshot A until (excluding) snapshot B, so it is in every snapshot of that Box user in between.
Recovering a result means recovering its path from the newest snapshot holding it (`snapshot`, a
recovery ref "<task id>:<snapshot id>", with `path` relative to the user's root), as the snapshot
browser does.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from django.db import connection

from boxvault.accounts.access import Access, get_for
from boxvault.backups.models import CatalogSnapshot, CatalogVersion, Task
from boxvault.search import backends
from boxvault.search.query import BadInput, criteria

MAX_PAGE_SIZE = 200
MAX_DEPTH = 10_000  # offset + limit: deeper pages mean the search should be narrowed
HELD_IN_SHOWN = 10


@dataclass
class Page:
    results: list[dict[str, Any]]
    page: int
    page_size: int
    has_next: bool


def task_for(access: Access, task_id: Any) -> Task:
    """The caller's task (404 for anyone else's)."""
    return get_for(access, Task.objects.all(), pk=task_id)


def search_items(
    access: Access,
    task: Task,
    *,
    q: str | None = None,
    author: str | None = None,
    name: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    box_user_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    if task.account_id != access.account.pk:  # callers pass a task from task_for(); belt and braces
        raise BadInput("no such task")
    if not task.index_for_search:
        raise BadInput(
            "item search is off for this task: turn on 'Index all data for Search' in its settings"
        )
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BadInput(f"the page size is between 1 and {MAX_PAGE_SIZE}")
    if offset < 0 or offset + limit > MAX_DEPTH:
        raise BadInput(f"only the first {MAX_DEPTH} results can be paged through: narrow the search")
    found = criteria(
        q, author=author, name=name, date_from=date_from, date_to=date_to, box_user_id=box_user_id
    )
    if found.empty:
        raise BadInput("enter a word or phrase, a name, an author or a date range")
    ids = backends.matching_ids(connection, task.pk, found, limit + 1, offset)
    return Page(
        results=describe(task, ids[:limit]),
        page=offset // limit + 1,
        page_size=limit,
        has_next=len(ids) > limit,
    )


def _person(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"name": text}
    if not isinstance(value, dict):
        return None
    return {k: str(value[k]) for k in ("id", "name", "login") if value.get(k) is not None}


def _snap(task: Task, snap: tuple[int, str, Any] | None) -> dict[str, Any] | None:
    if snap is None:
        return None
    return {"id": f"{task.pk}:{snap[1]}", "snapshot_id": snap[1], "time": snap[2].isoformat()}


def describe(task: Task, ids: list[int]) -> list[dict[str, Any]]:
    rows = {r.pk: r for r in CatalogVersion.objects.filter(task=task, pk__in=ids)}
    users = {r.box_user_id for r in rows.values()}
    # every snapshot of the users on this page, in the order the catalog ranges use (CatalogSnapshot.id)
    snaps: dict[str, list[tuple[int, str, Any]]] = {u: [] for u in users}
    for sid, snapshot_id, when, user in (
        CatalogSnapshot.objects.filter(task=task, box_user_id__in=users)
        .order_by("id")
        .values_list("id", "snapshot_id", "time", "box_user_id")
    ):
        snaps[user].append((sid, snapshot_id, when))
    results = []
    for pk in ids:
        row = rows.get(pk)
        if row is None:
            continue  # deleted since the index answered
        history = snaps.get(row.box_user_id, [])
        keys = [s[0] for s in history]
        start = bisect_left(keys, row.from_snapshot_id)
        end = bisect_left(keys, row.until_snapshot_id) if row.until_snapshot_id else len(history)
        held = history[start:end]
        until = history[end] if row.until_snapshot_id and end < len(history) else None
        modifier = _person(row.modified_by) or _person(row.created_by)
        results.append(
            {
                "id": row.pk,
                "item_id": row.item_id,
                "type": row.item_type,
                "name": row.name,
                "path": row.path,
                "size": row.size,
                "modified_at": row.content_modified_at or row.modified_at,
                "author": modifier,
                "created_by": _person(row.created_by),
                "modified_by": _person(row.modified_by),
                "box_user_id": row.box_user_id,
                "version_id": row.version_id,
                "sha1": row.sha1,
                "valid_from": _snap(task, history[start] if start < len(history) else None),
                "valid_until": _snap(task, until),
                "snapshot_count": len(held),
                "held_in": [_snap(task, s) for s in reversed(held[-HELD_IN_SHOWN:])],
                "snapshot": _snap(task, held[-1])["id"] if held else None,  # type: ignore[index]
            }
        )
    return results
