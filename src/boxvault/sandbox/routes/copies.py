"""Copies: `POST /2.0/files/{id}/copy` and `POST /2.0/folders/{id}/copy` (content shared, not duplicated)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import bad_request
from ..store import Row, Store
from .common import context, fields_param, json_body, ok, ref_id


def _copy_file(
    store: Store, row: Row, parent: tuple[int, int], actor_id: int, name: str, version: Row
) -> int:
    content = (int(version["size"]), str(version["sha1"]), str(version["source"]), str(version["ref"]))
    return items.create_file(
        store,
        parent[0],
        parent[1],
        actor_id,
        name,
        content,
        content_created_at=row["content_created_at"],
        content_modified_at=row["content_modified_at"],
        description=str(row["description"]),
    )


async def copy_file(request: Request) -> Response:
    store, actor, renderer = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    items.require(store, actor.id, row, "download")
    body = await json_body(request)
    parent = items.target_folder(store, actor.id, ref_id(body, "parent"))
    name = body.get("name", row["name"])
    items.check_name(name)
    version_id = body.get("version", row["version_id"])
    version = store.one(
        "SELECT * FROM versions WHERE id = ? AND file_id = ?",
        items.parse_id(version_id, "file_version"),
        row["id"],
    )
    if version is None:
        raise bad_request("'version' is not a version of this file")
    new_id = _copy_file(store, row, parent, actor.id, str(name), version)
    new = store.item(new_id)
    assert new is not None
    return ok(renderer.item(new, fields_param(request)), 201)


def _copy_tree(store: Store, source: Row, parent: tuple[int, int], actor_id: int, name: str) -> int:
    folder_id = items.create_folder(store, parent[0], parent[1], actor_id, name)
    children = store.all(
        "SELECT * FROM items WHERE parent_id = ? AND purged = 0 AND trashed_at IS NULL ORDER BY id",
        source["id"],
    )
    for child in children:
        target = (folder_id, parent[1])
        if child["type"] == "folder":
            _copy_tree(store, child, target, actor_id, str(child["name"]))
        elif child["type"] == "file":
            version = store.one("SELECT * FROM versions WHERE id = ?", child["version_id"])
            if version is not None:
                _copy_file(store, child, target, actor_id, str(child["name"]), version)
    return folder_id


async def copy_folder(request: Request) -> Response:
    store, actor, renderer = context(request)
    raw = request.path_params["folder_id"]
    if raw == "0":
        raise bad_request("The root folder cannot be copied")
    row = items.get_item(store, actor.id, raw, "folder")
    body = await json_body(request)
    parent = items.target_folder(store, actor.id, ref_id(body, "parent"))
    if parent[0] and items.is_descendant(store, parent[0], int(row["id"])):
        raise bad_request(
            "A folder cannot be copied into itself or its subfolders", "cyclical_folder_structure"
        )
    name = body.get("name", row["name"])
    items.check_name(name)
    with store.tx():
        new_id = _copy_tree(store, row, parent, actor.id, str(name))
    new = store.item(new_id)
    assert new is not None
    return ok(renderer.item(new, fields_param(request)), 201)


routes = [
    Route("/2.0/files/{file_id}/copy", copy_file, methods=["POST"]),
    Route("/2.0/folders/{folder_id}/copy", copy_folder, methods=["POST"]),
]
