"""Uploads on Box's upload host (`U/api/2.0/...`): multipart uploads, new versions, preflight checks."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import BoxError, bad_request
from ..runtime import base_url, sandbox
from ..store import Store, normalize_time
from .common import context, fields_param, json_body, ok, ref_id
from .files import check_if_match
from .sessions import routes as session_routes

MAX_SIZE = 50 * 1024**3


async def _save_upload(store: Store, upload: UploadFile) -> tuple[int, str, Path]:
    tmp = store.dir / "tmp" / uuid.uuid4().hex
    h = hashlib.sha1(usedforsecurity=False)
    size = 0
    with tmp.open("wb") as out:
        while True:
            chunk = await upload.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, h.hexdigest(), tmp


def _times(attributes: dict[str, Any]) -> tuple[str | None, str | None]:
    result: list[str | None] = []
    for key in ("content_created_at", "content_modified_at"):
        value = attributes.get(key)
        if value is None:
            result.append(None)
            continue
        if not isinstance(value, str):
            raise bad_request(f"'{key}' must be an RFC 3339 timestamp string")
        try:
            result.append(normalize_time(value))
        except ValueError:
            raise bad_request(f"'{key}' is not a valid RFC 3339 timestamp: {value!r}") from None
    return result[0], result[1]


async def _parse_multipart(request: Request) -> tuple[dict[str, Any], UploadFile]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise bad_request(
            "The upload must be multipart/form-data with an 'attributes' part then a 'file' part"
        )
    try:
        form = await request.form(max_part_size=1024 * 1024)
    except Exception as e:  # noqa: BLE001 - python-multipart raises various errors on broken bodies
        raise bad_request(f"The multipart body is malformed: {e}") from None
    keys = [k for k, _ in form.multi_items()]
    if "attributes" not in keys:
        raise bad_request("The 'attributes' part is missing", "bad_request")
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
    if upload is None:
        raise bad_request("The 'file' part is missing")
    first_file = next(i for i, (_, v) in enumerate(form.multi_items()) if isinstance(v, UploadFile))
    if keys.index("attributes") > first_file:
        # Box reads the attributes first and refuses a body that sends the file before them
        raise bad_request(
            "Metadata is included after file contents in a file upload request: send 'attributes' first",
            "metadata_after_file_contents",
        )
    raw = form.get("attributes")
    try:
        attributes = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        attributes = None
    if not isinstance(attributes, dict):
        raise bad_request("The 'attributes' part must be a JSON object")
    return attributes, upload


def _check_sha1(request: Request, sha1: str, tmp: Path) -> None:
    expected = request.headers.get("content-md5")
    if expected is not None and expected.strip().lower() != sha1:
        tmp.unlink(missing_ok=True)
        raise BoxError(400, "bad_digest", "The specified content-md5 did not match what we received")


async def upload_file(request: Request) -> Response:
    store, actor, renderer = context(request, upload=True)
    attributes, upload = await _parse_multipart(request)
    name = attributes.get("name")
    items.check_name(name)
    assert isinstance(name, str)
    parent_id, owner_id = items.target_folder(store, actor.id, ref_id(attributes, "parent"))
    created, modified = _times(attributes)
    existing = items.conflict(store, parent_id, owner_id, name)
    if existing is not None:
        raise items.conflict_error(store, existing, as_list=False)
    size, sha1, tmp = await _save_upload(store, upload)
    sandbox(request).stats.received(size)
    _check_sha1(request, sha1, tmp)
    store.store_blob(tmp, sha1)
    file_id = items.create_file(
        store,
        parent_id,
        owner_id,
        actor.id,
        name,
        (size, sha1, "disk", sha1),
        content_created_at=created,
        content_modified_at=modified,
        description=str(attributes.get("description", "") or ""),
    )
    row = store.item(file_id)
    assert row is not None
    return ok({"total_count": 1, "entries": [renderer.item(row, fields_param(request))]}, 201)


async def upload_version(request: Request) -> Response:
    store, actor, renderer = context(request, upload=True)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    items.require(store, actor.id, row, "edit")
    check_if_match(request, str(row["sequence_id"]))
    attributes, upload = await _parse_multipart(request)
    name = attributes.get("name")
    if name is not None:
        items.check_name(name)
    _, modified = _times(attributes)
    size, sha1, tmp = await _save_upload(store, upload)
    sandbox(request).stats.received(size)
    _check_sha1(request, sha1, tmp)
    store.store_blob(tmp, sha1)
    items.new_version(
        store, row, actor.id, (size, sha1, "disk", sha1), name=name, content_modified_at=modified
    )
    fresh = store.item(int(row["id"]))
    assert fresh is not None
    return ok({"total_count": 1, "entries": [renderer.item(fresh, fields_param(request))]}, 200)


def _size(body: dict[str, Any], required: bool) -> int | None:
    size = body.get("size")
    if size is None and not required:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise bad_request("'size' must be a non-negative integer")
    if size > MAX_SIZE:
        raise BoxError(413, "file_size_limit_exceeded", "File is too big for this account")
    return size


async def preflight(request: Request) -> Response:
    store, actor, _ = context(request)
    body = await json_body(request)
    name = body.get("name")
    items.check_name(name)
    assert isinstance(name, str)
    _size(body, required=False)
    parent_id, owner_id = items.target_folder(store, actor.id, ref_id(body, "parent"))
    existing = items.conflict(store, parent_id, owner_id, name)
    if existing is not None:
        # the spec's ConflictError for preflight carries a list of conflicts (uploads carry one object)
        raise items.conflict_error(store, existing, as_list=True)
    return ok(
        {
            "upload_url": f"{base_url(request)}/api/2.0/files/content",
            "upload_token": secrets.token_urlsafe(24),
        }
    )


async def preflight_version(request: Request) -> Response:
    store, actor, _ = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    body = await json_body(request, required=False)
    name = body.get("name")
    if name is not None:
        items.check_name(name)
        existing = items.conflict(store, int(row["parent_id"]), int(row["owner_id"]), name, exclude=row["id"])
        if existing is not None:
            raise items.conflict_error(store, existing, as_list=True)
    _size(body, required=False)
    return ok(
        {
            "upload_url": f"{base_url(request)}/api/2.0/files/{row['id']}/content",
            "upload_token": secrets.token_urlsafe(24),
        }
    )


routes = [
    Route("/api/2.0/files/content", upload_file, methods=["POST"]),
    Route("/2.0/files/content", preflight, methods=["OPTIONS"]),
    *session_routes,
    Route("/api/2.0/files/{file_id}/content", upload_version, methods=["POST"]),
    Route("/2.0/files/{file_id}/content", preflight_version, methods=["OPTIONS"]),
]
