# ruff: noqa: S608 - SQL from fixed fragments; values are always bound parameters
"""Files: get, update (rename, move, shared link), trash, restore, purge, versions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import BoxError, bad_request, not_found
from ..store import Row, Store, now_iso
from .common import context, fields_param, int_param, json_body, limit_param, ok, ref_id
from .links import apply_shared_link
from .trashed import trashed_routes


def check_if_match(request: Request, etag: str) -> None:
    wanted = request.headers.get("if-match")
    if wanted is not None and wanted.strip('"') != etag:
        raise BoxError(
            412,
            "precondition_failed",
            "The resource has been modified. Please retrieve the resource again and retry",
        )


async def get_file(request: Request) -> Response:
    """A file in the trash is still answered, with `item_status: trashed` (as Box does); what it cannot
    do there (download, change) answers 404 `trashed`."""
    store, actor, renderer = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file", allow_trashed=True)
    etag = str(row["sequence_id"])
    none_match = request.headers.get("if-none-match")
    if none_match is not None and none_match.strip('"') == etag:
        return Response(status_code=304)
    data = renderer.item(row, fields_param(request))
    if "item_status" in data and items.ancestors_trashed(store, row):
        data["item_status"] = "trashed"  # in the trash with the folder that holds it
    return ok(data)


async def update_file(request: Request) -> Response:
    store, actor, renderer = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
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
    updated = store.item(int(row["id"]))
    if updated is None:
        raise not_found("file")
    return ok(renderer.item(updated, fields_param(request)))


async def delete_file(request: Request) -> Response:
    store, actor, _ = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    items.require(store, actor.id, row, "edit")
    check_if_match(request, str(row["sequence_id"]))
    items.trash(store, row, actor.id)
    return Response(status_code=204)


async def list_versions(request: Request) -> Response:
    store, actor, renderer = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    limit = limit_param(request)
    offset = int_param(request, "offset", 0)
    # Box lists the previous versions only, newest first; the current one is the file itself
    where = "file_id = ? AND id != ?"
    total = int(
        store.scalar(f"SELECT COUNT(*) FROM versions WHERE {where}", row["id"], row["version_id"]) or 0  # nosec B608 # identifiers are constants, values bound as parameters
    )
    rows = store.all(
        f"SELECT * FROM versions WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",  # nosec B608 # identifiers are constants, values bound as parameters
        row["id"],
        row["version_id"],
        limit,
        offset,
    )
    return ok(
        {
            "total_count": total,
            "limit": limit,
            "offset": offset,
            "order": [{"by": "created_at", "direction": "DESC"}],
            "entries": [renderer.file_version(v) for v in rows],
        }
    )


async def get_version(request: Request) -> Response:
    store, actor, renderer = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    raw = request.path_params["version_id"]
    version = store.one(
        "SELECT * FROM versions WHERE id = ? AND file_id = ?", items.parse_id(raw, "file_version"), row["id"]
    )
    if version is None:
        raise not_found("file_version")
    return ok(renderer.file_version(version))


async def promote_version(request: Request) -> Response:
    """Makes an old version current again by copying it as a new version, as Box does."""
    store, actor, renderer = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    items.require(store, actor.id, row, "edit")
    check_if_match(request, str(row["sequence_id"]))
    body = await json_body(request)
    if body.get("type", "file_version") != "file_version":
        raise bad_request("'type' must be file_version")
    raw = body.get("id")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise bad_request("'id' of the version to promote is required")
    old = store.one(
        "SELECT * FROM versions WHERE id = ? AND file_id = ?", items.parse_id(raw, "file_version"), row["id"]
    )
    if old is None:
        raise not_found("file_version")
    if old["trashed_at"]:
        raise bad_request("This version is in the trash: restore it before promoting it")
    content = (int(old["size"]), str(old["sha1"]), str(old["source"]), str(old["ref"]))
    # Box: "the exact same contents as the older version, with the same hash digest, etag, and name"
    items.new_version(store, row, actor.id, content, name=str(old["name"]))
    fresh = store.item(int(row["id"]))
    assert fresh is not None
    current = store.one("SELECT * FROM versions WHERE id = ?", fresh["version_id"])
    assert current is not None
    return ok(renderer.file_version(current), 201)


def _editable_version(request: Request, store: Store, actor_id: int) -> tuple[Row, int]:
    """(the file, the version id of the path) for a change to one of the file's versions."""
    row = items.get_item(store, actor_id, request.path_params["file_id"], "file")
    items.require(store, actor_id, row, "edit")
    version_id = items.parse_id(request.path_params["version_id"], "file_version")
    if store.one("SELECT 1 FROM versions WHERE id = ? AND file_id = ?", version_id, row["id"]) is None:
        raise not_found("file_version")
    return row, version_id


async def delete_version(request: Request) -> Response:
    """Moves a previous version to the trash (Box keeps listing it, with `trashed_at`)."""
    store, actor, _ = context(request)
    row, version_id = _editable_version(request, store, actor.id)
    check_if_match(request, str(row["sequence_id"]))
    if version_id == row["version_id"]:
        raise bad_request("The current version cannot be deleted: delete the file instead")
    with store.tx():
        store.db.execute(
            "UPDATE versions SET trashed_at = ?, trashed_by = ? WHERE id = ?",
            (now_iso(), actor.id, version_id),
        )
    return Response(status_code=204)


async def restore_version(request: Request) -> Response:
    """`PUT .../versions/{id}` with `{"trashed_at": null}` takes a previous version out of the trash."""
    store, actor, renderer = context(request)
    _row, version_id = _editable_version(request, store, actor.id)
    body = await json_body(request)
    if "trashed_at" not in body or body["trashed_at"] is not None:
        raise bad_request("'trashed_at' must be null: the only change a version takes is leaving the trash")
    with store.tx():
        store.db.execute(
            "UPDATE versions SET trashed_at = NULL, trashed_by = NULL WHERE id = ?", (version_id,)
        )
    fresh = store.one("SELECT * FROM versions WHERE id = ?", version_id)
    if fresh is None:
        raise not_found("file_version")
    return ok(renderer.file_version(fresh))


routes = [
    Route("/2.0/files/{file_id}", get_file, methods=["GET"]),
    Route("/2.0/files/{file_id}", update_file, methods=["PUT"]),
    Route("/2.0/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/2.0/files/{file_id}/versions", list_versions, methods=["GET"]),
    Route("/2.0/files/{file_id}/versions/current", promote_version, methods=["POST"]),
    Route("/2.0/files/{file_id}/versions/{version_id}", get_version, methods=["GET"]),
    Route("/2.0/files/{file_id}/versions/{version_id}", delete_version, methods=["DELETE"]),
    Route("/2.0/files/{file_id}/versions/{version_id}", restore_version, methods=["PUT"]),
    *trashed_routes("file"),
]
