"""Collaborations, comments and web links."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import BoxError, bad_request, forbidden, not_found
from ..store import Row, Store, is_id, now_iso
from .common import context, fields_param, int_param, json_body, limit_param, ok, ref_id, require_str

ROLES = ("editor", "viewer", "previewer", "uploader", "previewer uploader", "viewer uploader", "co-owner")


def _collab(store: Store, user_id: int, raw: str) -> Row:
    c = store.one("SELECT * FROM collaborations WHERE id = ?", items.parse_id(raw, "collaboration"))
    if c is None:
        raise not_found("collaboration")
    item = store.item(int(c["item_id"]))
    if item is None or not (c["user_id"] == user_id or items.can_access(store, user_id, item)):
        raise not_found("collaboration")
    return c


async def create_collaboration(request: Request) -> Response:
    store, actor, renderer = context(request)
    body = await json_body(request)
    item_ref = body.get("item")
    if not isinstance(item_ref, dict) or item_ref.get("type") not in ("folder", "file"):
        raise bad_request("'item' must be an object with type folder or file and an id")
    grantee = body.get("accessible_by")
    if not isinstance(grantee, dict) or grantee.get("type", "user") not in ("user", "group"):
        raise bad_request("'accessible_by' must be an object of type user or group with an id")
    role = body.get("role")
    if role not in ROLES:
        raise bad_request(f"'role' must be one of {', '.join(ROLES)}")
    item = items.get_item(store, actor.id, ref_id(body, "item"), str(item_ref["type"]))
    items.require(store, actor.id, item, "edit")
    # a group collaboration is a row with group_id set and user_id 0
    user_id, group_id = _grantee(store, grantee)
    if user_id == int(item["owner_id"]):
        raise BoxError(400, "user_already_collaborator", "The owner is already a collaborator of the item")
    with store.tx():
        if store.scalar(
            "SELECT 1 FROM collaborations WHERE item_id = ? AND user_id = ? AND group_id IS ?",
            item["id"],
            user_id,
            group_id,
        ):
            raise BoxError(400, "user_already_collaborator", "User or group is already a collaborator")
        now = now_iso()
        cur = store.db.execute(
            "INSERT INTO collaborations (item_id, user_id, group_id, role, created_by, created_at, "
            "modified_at) VALUES (?,?,?,?,?,?,?)",
            (item["id"], user_id, group_id, role, actor.id, now, now),
        )
        items.record(store, "COLLAB_ADD_COLLABORATOR", int(item["id"]), actor.id)
    c = store.one("SELECT * FROM collaborations WHERE id = ?", cur.lastrowid)
    assert c is not None
    return ok(renderer.collaboration(c), 201)


def _grantee(store: Store, grantee: dict[str, Any]) -> tuple[int, int | None]:
    """(user id, group id) of `accessible_by`: a user by id or login, or a group by id."""
    raw = str(grantee.get("id") or "")
    if grantee.get("type") == "group":
        group = store.one("SELECT * FROM groups WHERE id = ?", int(raw)) if is_id(raw) else None
        if group is None:
            raise not_found("group")
        return 0, int(group["id"])
    user: Row | None = None
    if raw:
        user = store.user(int(raw)) if is_id(raw) else None
    elif isinstance(grantee.get("login"), str):
        user = store.one("SELECT * FROM users WHERE login = ? AND deleted = 0", grantee["login"])
    if user is None:
        raise not_found("user")
    return int(user["id"]), None


async def get_collaboration(request: Request) -> Response:
    store, actor, renderer = context(request)
    return ok(renderer.collaboration(_collab(store, actor.id, request.path_params["collab_id"])))


async def update_collaboration(request: Request) -> Response:
    store, actor, renderer = context(request)
    c = _collab(store, actor.id, request.path_params["collab_id"])
    body = await json_body(request)
    role = body.get("role")
    if role not in ROLES:
        raise bad_request(f"'role' must be one of {', '.join(ROLES)}")
    with store.tx():
        store.db.execute(
            "UPDATE collaborations SET role = ?, modified_at = ? WHERE id = ?", (role, now_iso(), c["id"])
        )
        items.record(store, "COLLABORATION_ROLE_CHANGE", int(c["item_id"]), actor.id)
    fresh = store.one("SELECT * FROM collaborations WHERE id = ?", c["id"])
    assert fresh is not None
    return ok(renderer.collaboration(fresh))


async def delete_collaboration(request: Request) -> Response:
    store, actor, _ = context(request)
    c = _collab(store, actor.id, request.path_params["collab_id"])
    with store.tx():
        items.record(store, "COLLAB_REMOVE_COLLABORATOR", int(c["item_id"]), actor.id)
        store.db.execute("DELETE FROM collaborations WHERE id = ?", (c["id"],))
    return Response(status_code=204)


def _item_collaborations(kind: str) -> Any:
    async def handler(request: Request) -> Response:
        store, actor, renderer = context(request)
        item = items.get_item(store, actor.id, request.path_params["item_id"], kind)
        rows = store.all("SELECT * FROM collaborations WHERE item_id = ? ORDER BY id", item["id"])
        entries = [renderer.collaboration(c) for c in rows]
        return ok(
            {"total_count": len(entries), "entries": entries, "limit": 100, "offset": 0, "next_marker": None}
        )

    return handler


async def create_comment(request: Request) -> Response:
    store, actor, renderer = context(request)
    body = await json_body(request)
    message = require_str(body, "message")
    item_ref = body.get("item")
    if not isinstance(item_ref, dict) or item_ref.get("type") not in ("file", "comment"):
        raise bad_request("'item' must be an object of type file (or comment) with an id")
    if item_ref["type"] == "comment":
        parent = store.one(
            "SELECT * FROM comments WHERE id = ?", items.parse_id(ref_id(body, "item"), "comment")
        )
        if parent is None:
            raise not_found("comment")
        file_row = items.get_item(store, actor.id, parent["item_id"], "file")
    else:
        file_row = items.get_item(store, actor.id, ref_id(body, "item"), "file")
    with store.tx():
        cur = store.db.execute(
            "INSERT INTO comments (item_id, message, created_by, created_at) VALUES (?,?,?,?)",
            (file_row["id"], message, actor.id, now_iso()),
        )
        items.record(store, "COMMENT_CREATE", int(file_row["id"]), actor.id)
    c = store.one("SELECT * FROM comments WHERE id = ?", cur.lastrowid)
    assert c is not None
    return ok(_comment(renderer.user(int(c["created_by"])), c), 201)


def _comment(user: dict[str, Any], c: Row) -> dict[str, Any]:
    return {
        "type": "comment",
        "id": str(c["id"]),
        "is_reply_comment": False,
        "message": c["message"],
        "tagged_message": c["message"],
        "created_by": user,
        "created_at": c["created_at"],
        "modified_at": c["created_at"],
        "item": {"type": "file", "id": str(c["item_id"])},
    }


async def file_comments(request: Request) -> Response:
    store, actor, renderer = context(request)
    row = items.get_item(store, actor.id, request.path_params["item_id"], "file")
    limit = limit_param(request)
    offset = int_param(request, "offset", 0)
    total = int(store.scalar("SELECT COUNT(*) FROM comments WHERE item_id = ?", row["id"]) or 0)
    rows = store.all(
        "SELECT * FROM comments WHERE item_id = ? ORDER BY id LIMIT ? OFFSET ?", row["id"], limit, offset
    )
    return ok(
        {
            "total_count": total,
            "limit": limit,
            "offset": offset,
            "order": [{"by": "created_at", "direction": "ASC"}],
            "entries": [_comment(renderer.user(int(c["created_by"])), c) for c in rows],
        }
    )


async def get_comment(request: Request) -> Response:
    store, actor, renderer = context(request)
    c = store.one(
        "SELECT * FROM comments WHERE id = ?", items.parse_id(request.path_params["comment_id"], "comment")
    )
    if c is None:
        raise not_found("comment")
    items.get_item(store, actor.id, c["item_id"], "file")
    return ok(_comment(renderer.user(int(c["created_by"])), c))


async def create_web_link(request: Request) -> Response:
    store, actor, renderer = context(request)
    body = await json_body(request)
    url = require_str(body, "url")
    if not url.startswith(("http://", "https://")):
        raise bad_request("'url' must start with http:// or https://")
    name = body.get("name", url.split("//", 1)[-1][:255].rstrip() or "link")
    items.check_name(name)
    description = body.get("description", "")
    if not isinstance(description, str):
        raise bad_request("'description' must be a string")
    parent_id, owner_id = items.target_folder(store, actor.id, ref_id(body, "parent"))
    with store.tx():
        existing = items.conflict(store, parent_id, owner_id, name)
        if existing is not None:
            raise items.conflict_error(store, existing, as_list=False)
        now = now_iso()
        cur = store.db.execute(
            """INSERT INTO items (type, name, name_key, parent_id, owner_id, created_by, modified_by,
               created_at,
               modified_at, description, url) VALUES ('web_link',?,?,?,?,?,?,?,?,?,?)""",
            (name, items.name_key(name), parent_id, owner_id, actor.id, actor.id, now, now, description, url),
        )
        items.record(store, "ITEM_CREATE", int(cur.lastrowid or 0), actor.id)
    row = store.item(int(cur.lastrowid or 0))
    assert row is not None
    return ok(renderer.item(row, fields_param(request)), 200)  # Box answers 200 here, not 201


async def get_web_link(request: Request) -> Response:
    store, actor, renderer = context(request)
    return ok(
        renderer.item(
            items.get_item(store, actor.id, request.path_params["link_id"], "web_link"), fields_param(request)
        )
    )


async def update_web_link(request: Request) -> Response:
    store, actor, renderer = context(request)
    row = items.get_item(store, actor.id, request.path_params["link_id"], "web_link")
    items.require(store, actor.id, row, "edit")
    body = await json_body(request)
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise bad_request("'name' must be a string")
    parent = items.target_folder(store, actor.id, ref_id(body, "parent")) if "parent" in body else None
    url = body.get("url")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise bad_request("'url' must start with http:// or https://")
        with store.tx():
            store.db.execute(
                "UPDATE items SET url = ?, sequence_id = sequence_id + 1 WHERE id = ?", (url, row["id"])
            )
    if name is not None or parent is not None:
        items.update(store, row, actor.id, name=name, parent=parent)
    fresh = store.item(int(row["id"]))
    assert fresh is not None
    return ok(renderer.item(fresh, fields_param(request)))


async def delete_web_link(request: Request) -> Response:
    store, actor, _ = context(request)
    row = items.get_item(store, actor.id, request.path_params["link_id"], "web_link")
    items.require(store, actor.id, row, "edit")
    items.trash(store, row, actor.id)
    return Response(status_code=204)


async def get_trashed_web_link(request: Request) -> Response:
    store, actor, renderer = context(request)
    row = items.get_trashed(store, actor.id, request.path_params["link_id"], "web_link")
    return ok(renderer.item(row, fields_param(request)))


async def purge_web_link(request: Request) -> Response:
    store, actor, _ = context(request)
    items.purge(
        store, items.get_trashed(store, actor.id, request.path_params["link_id"], "web_link"), actor.id
    )
    return Response(status_code=204)


async def restore_web_link(request: Request) -> Response:
    store, actor, renderer = context(request)
    row = items.get_trashed(store, actor.id, request.path_params["link_id"], "web_link")
    body = await json_body(request, required=False)
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise bad_request("'name' must be a string")
    parent = items.target_folder(store, actor.id, ref_id(body, "parent")) if "parent" in body else None
    items.restore(store, row, actor.id, name, parent)
    fresh = store.item(int(row["id"]))
    assert fresh is not None
    return ok(renderer.item(fresh, fields_param(request)), 201)


async def pending_collaborations(request: Request) -> Response:
    context(request)
    if request.query_params.get("status") != "pending":
        raise bad_request("status=pending is required")
    # collaborations are accepted on creation in the sandbox: nothing is ever pending
    return ok({"total_count": 0, "entries": [], "limit": 100, "offset": 0})


async def update_comment(request: Request) -> Response:
    store, actor, renderer = context(request)
    c = store.one(
        "SELECT * FROM comments WHERE id = ?", items.parse_id(request.path_params["comment_id"], "comment")
    )
    if c is None:
        raise not_found("comment")
    items.get_item(store, actor.id, c["item_id"], "file")
    if int(c["created_by"]) != actor.id:
        raise forbidden("Only the author can change a comment")
    body = await json_body(request)
    message = require_str(body, "message")
    with store.tx():
        store.db.execute("UPDATE comments SET message = ? WHERE id = ?", (message, c["id"]))
    fresh = store.one("SELECT * FROM comments WHERE id = ?", c["id"])
    assert fresh is not None
    return ok(_comment(renderer.user(int(fresh["created_by"])), fresh))


async def delete_comment(request: Request) -> Response:
    store, actor, _ = context(request)
    c = store.one(
        "SELECT * FROM comments WHERE id = ?", items.parse_id(request.path_params["comment_id"], "comment")
    )
    if c is None:
        raise not_found("comment")
    items.get_item(store, actor.id, c["item_id"], "file")
    with store.tx():
        store.db.execute("DELETE FROM comments WHERE id = ?", (c["id"],))
    return Response(status_code=204)


routes = [
    Route("/2.0/collaborations", pending_collaborations, methods=["GET"]),
    Route("/2.0/collaborations", create_collaboration, methods=["POST"]),
    Route("/2.0/collaborations/{collab_id}", get_collaboration, methods=["GET"]),
    Route("/2.0/collaborations/{collab_id}", update_collaboration, methods=["PUT"]),
    Route("/2.0/collaborations/{collab_id}", delete_collaboration, methods=["DELETE"]),
    Route("/2.0/folders/{item_id}/collaborations", _item_collaborations("folder"), methods=["GET"]),
    Route("/2.0/files/{item_id}/collaborations", _item_collaborations("file"), methods=["GET"]),
    Route("/2.0/comments", create_comment, methods=["POST"]),
    Route("/2.0/comments/{comment_id}", get_comment, methods=["GET"]),
    Route("/2.0/comments/{comment_id}", update_comment, methods=["PUT"]),
    Route("/2.0/comments/{comment_id}", delete_comment, methods=["DELETE"]),
    Route("/2.0/files/{item_id}/comments", file_comments, methods=["GET"]),
    Route("/2.0/web_links", create_web_link, methods=["POST"]),
    Route("/2.0/web_links/{link_id}", get_web_link, methods=["GET"]),
    Route("/2.0/web_links/{link_id}", update_web_link, methods=["PUT"]),
    Route("/2.0/web_links/{link_id}", delete_web_link, methods=["DELETE"]),
    Route("/2.0/web_links/{link_id}", restore_web_link, methods=["POST"]),
    Route("/2.0/web_links/{link_id}/trash", get_trashed_web_link, methods=["GET"]),
    Route("/2.0/web_links/{link_id}/trash", purge_web_link, methods=["DELETE"]),
]
