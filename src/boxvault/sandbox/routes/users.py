# ruff: noqa: S608 - SQL from fixed fragments; values are always bound parameters
"""Users: `GET/POST /2.0/users`, `/2.0/users/me`, `GET/PUT/DELETE /2.0/users/{id}`, and the transfer of a
user's content `PUT /2.0/users/{id}/folders/0`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import people
from ..auth import authenticate, require_admin
from ..errors import bad_request, forbidden, not_found
from ..render import Renderer, user_full
from ..runtime import sandbox
from ..store import Row, is_id
from .common import (
    bool_param,
    context,
    decode_marker,
    encode_marker,
    fields_param,
    int_param,
    json_body,
    limit_param,
    ok,
)

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


async def create_user(request: Request) -> Response:
    actor = authenticate(request)
    require_admin(actor)
    store = sandbox(request).store
    body = await json_body(request)
    if body.get("is_platform_access_only") is True:  # an app user: Box makes up its login
        body.setdefault("login", f"AppUser_{store.scalar('SELECT COUNT(*) FROM users')}@boxdevedition.com")
    row = people.create(store, actor.id, body.get("login"), body.get("name"), body.get("role", "user"))
    return ok(_render(row, store.setting("enterprise_id", "") or "", fields_param(request)), 201)


async def update_user(request: Request) -> Response:
    actor = authenticate(request)
    require_admin(actor)
    store = sandbox(request).store
    user = people.get(store, request.path_params["user_id"])
    row = people.update(store, actor.id, user, await json_body(request))
    return ok(_render(row, store.setting("enterprise_id", "") or "", fields_param(request)))


async def delete_user(request: Request) -> Response:
    actor = authenticate(request)
    require_admin(actor)
    store = sandbox(request).store
    user = people.get(store, request.path_params["user_id"])
    if int(user["id"]) == actor.id:
        raise forbidden("A user cannot delete their own account")
    people.delete(store, actor.id, user, force=bool_param(request, "force"))
    return Response(status_code=204)


async def transfer_content(request: Request) -> Response:
    """Box moves everything the user owns into a new folder of the destination user (`owned_by.id`)."""
    store, actor, _ = context(request)
    require_admin(actor)
    if request.path_params["folder_id"] != "0":
        raise bad_request("Only the root folder (0) of a user can be transferred")
    source = people.get(store, request.path_params["user_id"])
    body = await json_body(request)
    owned_by = body.get("owned_by")
    target_id = owned_by.get("id") if isinstance(owned_by, dict) else None
    if not isinstance(target_id, str):
        raise bad_request("'owned_by.id' (the destination user) is required")
    target = people.get(store, target_id)
    folder_id = people.transfer(store, actor.id, source, target)
    renderer = Renderer(store, int(target["id"]), str(request.base_url).rstrip("/"))
    row = store.item(folder_id)
    if row is None:
        raise not_found("folder")
    return ok(renderer.item(row))


routes = [
    Route("/2.0/users", list_users, methods=["GET"]),
    Route("/2.0/users", create_user, methods=["POST"]),
    Route("/2.0/users/me", me, methods=["GET"]),
    Route("/2.0/users/{user_id}", get_user, methods=["GET"]),
    Route("/2.0/users/{user_id}", update_user, methods=["PUT"]),
    Route("/2.0/users/{user_id}", delete_user, methods=["DELETE"]),
    Route("/2.0/users/{user_id}/folders/{folder_id}", transfer_content, methods=["PUT"]),
]
