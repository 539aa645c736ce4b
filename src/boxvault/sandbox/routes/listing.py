"""Folder item listings with Box's offset and marker paging, shared by folder items and the trash."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..errors import bad_request
from ..render import Renderer
from ..store import Store
from .common import bool_param, decode_marker, encode_marker, fields_param, int_param, limit_param

SORTS = {
    "id": "i.id",
    "name": "i.name_key",
    "date": "i.modified_at",
    "size": "COALESCE(v.size, 0)",
}
TYPE_ORDER = "CASE i.type WHEN 'folder' THEN 0 WHEN 'file' THEN 1 ELSE 2 END"
MAX_OFFSET = 10000


def page(
    request: Request, store: Store, renderer: Renderer, where: str, args: list[Any], mini: bool = True
) -> dict[str, Any]:
    fields = fields_param(request)
    limit = limit_param(request)
    base = f"FROM items i LEFT JOIN versions v ON v.id = i.version_id WHERE {where}"
    if bool_param(request, "usemarker"):
        # marker paging walks by id, which stays stable while the folder changes between pages
        after = decode_marker(request.query_params["marker"]) if request.query_params.get("marker") else 0
        rows = store.all(f"SELECT i.* {base} AND i.id > ? ORDER BY i.id LIMIT ?", *args, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        renderer.prefetch(rows)
        return {
            "limit": limit,
            "next_marker": encode_marker(int(rows[-1]["id"])) if more else None,
            "prev_marker": None,
            "entries": [renderer.item(r, fields, mini=True) for r in rows],
        }
    offset = int_param(request, "offset", 0)
    if offset > MAX_OFFSET:
        raise bad_request(f"offset must not exceed {MAX_OFFSET}: use marker paging (usemarker=true)")
    sort = request.query_params.get("sort")
    direction = request.query_params.get("direction", "ASC").upper()
    if direction not in ("ASC", "DESC"):
        raise bad_request("direction must be ASC or DESC")
    if sort is not None and sort not in SORTS:
        raise bad_request(f"sort must be one of {', '.join(SORTS)}")
    if sort is None:
        order_sql = f"{TYPE_ORDER}, i.name_key {direction}, i.id"
        order = [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": direction}]
    else:
        order_sql = f"{TYPE_ORDER}, {SORTS[sort]} {direction}, i.id {direction}"
        order = [{"by": "type", "direction": "ASC"}, {"by": sort, "direction": direction}]
    total = int(store.scalar(f"SELECT COUNT(*) {base}", *args) or 0)
    rows = store.all(f"SELECT i.* {base} ORDER BY {order_sql} LIMIT ? OFFSET ?", *args, limit, offset)
    renderer.prefetch(rows)
    return {
        "total_count": total,
        "entries": [renderer.item(r, fields, mini=mini) for r in rows],
        "offset": offset,
        "limit": limit,
        "order": order,
    }


def children_where(store: Store, folder_id: int, user_id: int) -> tuple[str, list[Any]]:
    if folder_id == 0:
        return (
            """i.purged = 0 AND i.trashed_at IS NULL AND ((i.parent_id = 0 AND i.owner_id = ?) OR i.id IN (
                   SELECT c.item_id FROM grants c JOIN items f ON f.id = c.item_id
                   WHERE c.user_id = ? AND c.status = 'accepted' AND f.owner_id != ?))""",
            [user_id, user_id, user_id],
        )
    return "i.parent_id = ? AND i.purged = 0 AND i.trashed_at IS NULL", [folder_id]
