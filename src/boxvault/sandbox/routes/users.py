# ruff: noqa: S608 - SQL from fixed fragments; values are always bound parameters
"""Users: `GET /2.0/users`, `/2.0/users/me`, `/2.0/users/{id}`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import authenticate, require_admin
from ..errors import bad_request, forbidden, not_found
from ..render import user_full
from ..runtime import sandbox
from ..store import Row, is_id
from .common import bool_param, decode_marker, encode_marker, fields_param, int_param, limit_param, ok

USER_STANDARD = (
    "type id name login created_at modified_at language timezone space_amount space_used max_upload_size "
    "status job_title phone address avatar_url notification_email"
).split()


def _render(row: Row, enterprise_id: str, fields: list[str] | None) -> dict[str, Any]:
    data = user_full(row, enterprise_id)
    keys = USER_STANDARD if fields is None else ["type", "id", *fields]
    return {k: data[k] for k in dict.fromkeys(keys) if k in data}


async def list_users(request: Request) -> Response:
    actor = authenticate(request)
    require_admin(actor)
    store = sandbox(request).store
    fields = fields_param(request)
    limit = limit_param(request)
    user_type = request.query_params.get("user_type", "all")
    if user_type not in ("all", "managed", "external"):
        raise bad_request("user_type must be one of all, managed, external")
    term = request.query_params.get("filter_term") or ""
    where = "deleted = 0 AND is_service = 0"
    args: list[Any] = []
    if user_type == "all":
        # "all" lists external users only when filter_term matches their login completely, as on Box
        where += " AND (kind = 'managed' OR (kind = 'external' AND login = ?))"
        args.append(term)
    else:
        where += " AND kind = ?"
        args.append(user_type)
    if term:
        where += " AND (login LIKE ? OR name LIKE ? OR login = ?)"
        args += [f"{term}%", f"{term}%", term]
    enterprise_id = store.setting("enterprise_id", "") or ""
    if bool_param(request, "usemarker"):
        after = decode_marker(request.query_params["marker"]) if request.query_params.get("marker") else 0
        rows = store.all(
            f"SELECT * FROM users WHERE {where} AND id > ? ORDER BY id LIMIT ?",  # nosec B608 # identifiers are constants, values bound as parameters
            *args,
            after,
            limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return ok(
            {
                "limit": limit,
                "next_marker": encode_marker(int(rows[-1]["id"])) if more else None,
                "entries": [_render(r, enterprise_id, fields) for r in rows],
            }
        )
    offset = int_param(request, "offset", 0, maximum=10000)
    total = int(store.scalar(f"SELECT COUNT(*) FROM users WHERE {where}", *args) or 0)  # nosec B608 # identifiers are constants, values bound as parameters
    rows = store.all(f"SELECT * FROM users WHERE {where} ORDER BY id LIMIT ? OFFSET ?", *args, limit, offset)  # nosec B608 # identifiers are constants, values bound as parameters
    return ok(
        {
            "total_count": total,
            "limit": limit,
            "offset": offset,
            "order": [{"by": "id", "direction": "ASC"}],
            "entries": [_render(r, enterprise_id, fields) for r in rows],
        }
    )


async def me(request: Request) -> Response:
    actor = authenticate(request)
    store = sandbox(request).store
    return ok(_render(actor.user, store.setting("enterprise_id", "") or "", fields_param(request)))


async def get_user(request: Request) -> Response:
    actor = authenticate(request)
    store = sandbox(request).store
    raw = request.path_params["user_id"]
    if raw == "me":
        return await me(request)
    row = store.user(int(raw)) if is_id(raw) and len(raw) < 19 else None
    if row is None:
        raise not_found("user")
    if row["id"] != actor.id and not actor.is_admin:
        raise forbidden()
    return ok(_render(row, store.setting("enterprise_id", "") or "", fields_param(request)))


routes = [
    Route("/2.0/users", list_users, methods=["GET"]),
    Route("/2.0/users/me", me, methods=["GET"]),
    Route("/2.0/users/{user_id}", get_user, methods=["GET"]),
]
