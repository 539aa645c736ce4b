"""Groups and memberships: `GET/POST /2.0/groups`, `GET/DELETE /2.0/groups/{id}`, `GET .../memberships`,
`POST /2.0/group_memberships`, `DELETE /2.0/group_memberships/{id}`, `GET /2.0/users/{id}/memberships`.
Managing groups needs an admin (or the service account), as on Box; deleting a group ends its memberships
and its collaborations."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import authenticate, require_admin
from ..errors import BoxError, bad_request, not_found
from ..render import user_mini
from ..runtime import sandbox
from ..store import Row, Store, is_id, now_iso
from .common import json_body, ok, ref_id


def _group_json(row: Row) -> dict[str, Any]:
    return {
        "type": "group",
        "id": str(row["id"]),
        "name": row["name"],
        "group_type": "managed_group",
        "description": row["description"],
        "created_at": row["created_at"],
        "modified_at": row["modified_at"],
    }


def _group(store: Store, raw: Any) -> Row:
    row = (
        store.one("SELECT * FROM groups WHERE id = ?", int(raw))
        if isinstance(raw, str) and is_id(raw)
        else None
    )
    if row is None:
        raise not_found("group")
    return row


def _membership_json(store: Store, m: Row) -> dict[str, Any]:
    user = store.one("SELECT * FROM users WHERE id = ?", m["user_id"])
    group = store.one("SELECT * FROM groups WHERE id = ?", m["group_id"])
    return {
        "type": "group_membership",
        "id": str(m["id"]),
        "user": user_mini(user) if user is not None else None,
        "group": _group_json(group) if group is not None else None,
        "role": m["role"],
        "created_at": m["created_at"],
        "modified_at": m["created_at"],
    }


def _page(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total_count": len(entries), "limit": 1000, "offset": 0, "entries": entries}


async def list_groups(request: Request) -> Response:
    store = sandbox(request).store
    require_admin(authenticate(request))
    term = request.query_params.get("filter_term") or ""
    rows = store.all("SELECT * FROM groups WHERE name LIKE ? ORDER BY id", f"{term}%")
    return ok(_page([_group_json(r) for r in rows]))


async def create_group(request: Request) -> Response:
    store = sandbox(request).store
    require_admin(authenticate(request))
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise bad_request("'name' is required: a string of 1 to 255 characters")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise bad_request("'description' must be a string")
    now = now_iso()
    with store.tx():
        if store.scalar("SELECT 1 FROM groups WHERE name = ?", name):
            raise BoxError(409, "conflict", "A group with this name already exists")
        cur = store.db.execute(
            "INSERT INTO groups (name, description, created_at, modified_at) VALUES (?,?,?,?)",
            (name, description, now, now),
        )
    return ok(_group_json(_group(store, str(cur.lastrowid))), 201)


async def get_group(request: Request) -> Response:
    store = sandbox(request).store
    require_admin(authenticate(request))
    return ok(_group_json(_group(store, request.path_params["group_id"])))


async def delete_group(request: Request) -> Response:
    store = sandbox(request).store
    require_admin(authenticate(request))
    group = _group(store, request.path_params["group_id"])
    with store.tx():
        store.db.execute("DELETE FROM group_memberships WHERE group_id = ?", (group["id"],))
        store.db.execute("DELETE FROM collaborations WHERE group_id = ?", (group["id"],))
        store.db.execute("DELETE FROM groups WHERE id = ?", (group["id"],))
    return Response(status_code=204)


async def group_memberships(request: Request) -> Response:
    store = sandbox(request).store
    require_admin(authenticate(request))
    group = _group(store, request.path_params["group_id"])
    rows = store.all("SELECT * FROM group_memberships WHERE group_id = ? ORDER BY id", group["id"])
    return ok(_page([_membership_json(store, m) for m in rows]))


async def user_memberships(request: Request) -> Response:
    store = sandbox(request).store
    require_admin(authenticate(request))
    raw = request.path_params["user_id"]
    user = store.user(int(raw)) if is_id(raw) else None
    if user is None:
        raise not_found("user")
    rows = store.all("SELECT * FROM group_memberships WHERE user_id = ? ORDER BY id", user["id"])
    return ok(_page([_membership_json(store, m) for m in rows]))


async def add_membership(request: Request) -> Response:
    store = sandbox(request).store
    require_admin(authenticate(request))
    body = await json_body(request)
    group = _group(store, ref_id(body, "group"))
    raw_user = ref_id(body, "user")
    user = store.user(int(raw_user)) if is_id(raw_user) else None
    if user is None:
        raise not_found("user")
    role = body.get("role", "member")
    if role not in ("member", "admin"):
        raise bad_request("'role' must be member or admin")
    with store.tx():
        if store.scalar(
            "SELECT 1 FROM group_memberships WHERE group_id = ? AND user_id = ?", group["id"], user["id"]
        ):
            raise BoxError(409, "conflict", "The user is already a member of the group")
        cur = store.db.execute(
            "INSERT INTO group_memberships (group_id, user_id, role, created_at) VALUES (?,?,?,?)",
            (group["id"], user["id"], role, now_iso()),
        )
    m = store.one("SELECT * FROM group_memberships WHERE id = ?", cur.lastrowid)
    if m is None:
        raise not_found("group_membership")
    return ok(_membership_json(store, m), 201)


async def delete_membership(request: Request) -> Response:
    store = sandbox(request).store
    require_admin(authenticate(request))
    raw = request.path_params["membership_id"]
    m = store.one("SELECT * FROM group_memberships WHERE id = ?", int(raw)) if is_id(raw) else None
    if m is None:
        raise not_found("group_membership")
    with store.tx():
        store.db.execute("DELETE FROM group_memberships WHERE id = ?", (m["id"],))
    return Response(status_code=204)


routes = [
    Route("/2.0/groups", list_groups, methods=["GET"]),
    Route("/2.0/groups", create_group, methods=["POST"]),
    Route("/2.0/groups/{group_id}", get_group, methods=["GET"]),
    Route("/2.0/groups/{group_id}", delete_group, methods=["DELETE"]),
    Route("/2.0/groups/{group_id}/memberships", group_memberships, methods=["GET"]),
    Route("/2.0/group_memberships", add_membership, methods=["POST"]),
    Route("/2.0/group_memberships/{membership_id}", delete_membership, methods=["DELETE"]),
    Route("/2.0/users/{user_id}/memberships", user_memberships, methods=["GET"]),
]
