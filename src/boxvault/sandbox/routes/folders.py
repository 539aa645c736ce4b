# ruff: noqa: S608 - SQL from fixed fragments; values are always bound parameters
"""Folders: get, create, update (rename, move, shared link), trash, restore, purge and item listings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import BoxError, bad_request
from ..store import Row
from .common import context, fields_param, json_body, ok, ref_id, require_str
from .files import check_if_match
from .links import apply_shared_link
from .listing import children_where, page
from .trashed import trashed_routes


def _folder_json(request: Request, row: Row | None, status: int = 200) -> Response:
    store, actor, renderer = context(request)
    fields = fields_param(request)
    if row is None:
        data = renderer.root(actor.user)
        if fields is not None:
            data = {k: v for k, v in data.items() if k in ("type", "id", "etag", *fields)}
    else:
        data = renderer.item(row, fields)
        if "item_status" in data and items.ancestors_trashed(store, row):
            data["item_status"] = "trashed"  # in the trash with the folder that holds it
    if fields is None or "item_collection" in fields:
        folder_id = 0 if row is None else int(row["id"])
        where, args = children_where(store, folder_id, actor.id)
        data["item_collection"] = page(request, store, renderer, where, args)
    return ok(data, status)


async def get_folder(request: Request) -> Response:
    store, actor, _ = context(request)
    raw = request.path_params["folder_id"]
    if raw == "0":
        return _folder_json(request, None)
    # a folder in the trash is still answered, `item_status: trashed`, as Box does
    return _folder_json(request, items.get_item(store, actor.id, raw, "folder", allow_trashed=True))


async def folder_items(request: Request) -> Response:
    store, actor, renderer = context(request)
    raw = request.path_params["folder_id"]
    folder_id = 0 if raw == "0" else int(items.get_item(store, actor.id, raw, "folder")["id"])
    where, args = children_where(store, folder_id, actor.id)
    return ok(page(request, store, renderer, where, args))


async def create_folder(request: Request) -> Response:
    store, actor, _ = context(request)
    body = await json_body(request)
    name = require_str(body, "name")
    parent_id, owner_id = items.target_folder(store, actor.id, ref_id(body, "parent"))
    folder_id = items.create_folder(store, parent_id, owner_id, actor.id, name)
    row = store.item(folder_id)
    return _folder_json(request, row, 201)


async def update_folder(request: Request) -> Response:
    store, actor, _ = context(request)
    raw = request.path_params["folder_id"]
    if raw == "0":
        raise bad_request("The root folder cannot be changed")
    row = items.get_item(store, actor.id, raw, "folder")
    items.require(store, actor.id, row, "edit")
    check_if_match(request, str(row["sequence_id"]))
    body = await json_body(request)
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise bad_request("'name' must be a string")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise bad_request("'description' must be a string")
    parent = items.target_folder(store, actor.id, ref_id(body, "parent")) if "parent" in body else None
    if "shared_link" in body:
        apply_shared_link(request, store, row, body["shared_link"], actor.id)
    if name is not None or parent is not None or description is not None:
        items.update(store, row, actor.id, name=name, parent=parent, description=description)
    return _folder_json(request, store.item(int(row["id"])))


async def delete_folder(request: Request) -> Response:
    store, actor, _ = context(request)
    raw = request.path_params["folder_id"]
    if raw == "0":
        raise bad_request("The root folder cannot be deleted")
    row = items.get_item(store, actor.id, raw, "folder")
    items.require(store, actor.id, row, "edit")
    check_if_match(request, str(row["sequence_id"]))
    recursive = request.query_params.get("recursive", "false").lower() == "true"
    where, args = children_where(store, int(row["id"]), actor.id)
    if not recursive and store.scalar(f"SELECT 1 FROM items i WHERE {where} LIMIT 1", *args):  # nosec B608 # identifiers are constants, values bound as parameters
        raise BoxError(400, "folder_not_empty", "Cannot delete a folder that is not empty: use recursive")
    items.trash(store, row, actor.id)
    return Response(status_code=204)


async def trash_items(request: Request) -> Response:
    store, actor, renderer = context(request)
    # only the top-level trashed items are listed, as on Box: the content of a trashed folder is not
    where = """i.owner_id = ? AND i.purged = 0 AND i.trashed_at IS NOT NULL AND (i.parent_id = 0 OR NOT
        EXISTS (
                   SELECT 1 FROM items p WHERE p.id = i.parent_id AND p.trashed_at IS NOT NULL))"""
    return ok(page(request, store, renderer, where, [actor.id], mini=False))


routes = [
    Route("/2.0/folders", create_folder, methods=["POST"]),
    Route("/2.0/folders/trash/items", trash_items, methods=["GET"]),
    Route("/2.0/folders/{folder_id}", get_folder, methods=["GET"]),
    Route("/2.0/folders/{folder_id}", update_folder, methods=["PUT"]),
    Route("/2.0/folders/{folder_id}", delete_folder, methods=["DELETE"]),
    Route("/2.0/folders/{folder_id}/items", folder_items, methods=["GET"]),
    *trashed_routes("folder"),
]
