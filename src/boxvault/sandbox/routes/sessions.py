"""Chunked upload sessions on the upload host, answering exactly what the SDK's `upload_big_file` checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import shutil
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import BoxError, bad_request, not_found
from ..runtime import base_url, sandbox
from ..store import Row, Store, now_iso
from .common import context, fields_param, int_param, json_body, limit_param, ok

MIN_SIZE = 20 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
SESSION_TTL = 7 * 24 * 3600
RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def _session_json(request: Request, store: Store, s: Row) -> dict[str, Any]:
    base = f"{base_url(request)}/api/2.0/files/upload_sessions/{s['id']}"
    total_parts = max(1, -(-int(s["total_size"]) // int(s["part_size"])))
    done = int(store.scalar("SELECT COUNT(*) FROM upload_parts WHERE session_id = ?", s["id"]) or 0)
    return {
        "id": s["id"],
        "type": "upload_session",
        "session_expires_at": s["expires_at"],
        "part_size": int(s["part_size"]),
        "total_parts": total_parts,
        "num_parts_processed": done,
        "session_endpoints": {
            "upload_part": base,
            "commit": f"{base}/commit",
            "abort": base,
            "list_parts": f"{base}/parts",
            "status": base,
            "log_event": f"{base}/log",
            "plan": f"{base}/plan",
        },
    }


def _file_size(body: dict[str, Any]) -> int:
    size = body.get("file_size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise bad_request("'file_size' is required and must be a non-negative integer")
    if size < MIN_SIZE:
        raise BoxError(400, "file_size_too_small", f"Upload sessions need files of at least {MIN_SIZE} bytes")
    return size


def _create(
    request: Request, store: Store, user_id: int, folder_id: int, file_id: int | None, name: str, size: int
) -> Response:
    session_id = uuid.uuid4().hex.upper()
    expires = now_iso(time.time() + SESSION_TTL)
    with store.tx():
        store.db.execute(
            "INSERT INTO upload_sessions (id, folder_id, file_id, file_name, total_size, part_size, user_id, "
            "expires_at) VALUES (?,?,?,?,?,?,?,?)",
            (session_id, folder_id, file_id, name, size, PART_SIZE, user_id, expires),
        )
    (store.dir / "sessions" / session_id).mkdir(parents=True, exist_ok=True)
    row = store.one("SELECT * FROM upload_sessions WHERE id = ?", session_id)
    assert row is not None
    return ok(_session_json(request, store, row), 201)


async def create_session(request: Request) -> Response:
    store, actor, _ = context(request, upload=True)
    body = await json_body(request)
    name = body.get("file_name")
    items.check_name(name)
    assert isinstance(name, str)
    size = _file_size(body)
    folder = body.get("folder_id")
    if not isinstance(folder, str | int) or isinstance(folder, bool):
        raise bad_request("'folder_id' is required and must be a string")
    folder_id, owner_id = items.target_folder(store, actor.id, folder)
    existing = items.conflict(store, folder_id, owner_id, name)
    if existing is not None:
        raise items.conflict_error(store, existing, as_list=False)
    return _create(request, store, actor.id, folder_id, None, name, size)


async def create_version_session(request: Request) -> Response:
    store, actor, _ = context(request, upload=True)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    items.require(store, actor.id, row, "edit")
    body = await json_body(request)
    name = body.get("file_name", row["name"])
    items.check_name(name)
    return _create(
        request, store, actor.id, int(row["parent_id"]), int(row["id"]), str(name), _file_size(body)
    )


def _session(request: Request) -> tuple[Store, int, Row]:
    store, actor, _ = context(request, upload=True)
    s = store.one("SELECT * FROM upload_sessions WHERE id = ?", str(request.path_params["session_id"]))
    if s is None:
        raise not_found("upload_session")
    if int(s["user_id"]) != actor.id:
        raise BoxError(403, "forbidden", "Only the user who created the upload session may use it")
    if s["expires_at"] < now_iso():
        raise BoxError(410, "session_expired", "The upload session has expired")
    return store, actor.id, s


async def get_session(request: Request) -> Response:
    store, _, s = _session(request)
    return ok(_session_json(request, store, s))


def _digest(request: Request, name: str = "digest") -> bytes:
    raw = request.headers.get(name, "")
    algo, _, value = raw.partition("=")
    if algo.strip().lower() != "sha" or not value:
        raise bad_request(
            "The Digest header must be 'sha=<base64 SHA-1>'", "missing_digest" if not raw else "bad_request"
        )
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("The Digest header is not valid base64") from None


async def upload_part(request: Request) -> Response:
    store, _, s = _session(request)
    expected = _digest(request)
    m = RANGE_RE.match(request.headers.get("content-range", "").strip())
    total, part_size = int(s["total_size"]), int(s["part_size"])
    if m is None or int(m.group(3)) != total:
        raise BoxError(416, "range_mismatch", "Content-Range must be 'bytes <first>-<last>/<file size>'")
    start, last = int(m.group(1)), int(m.group(2))
    size = last - start + 1
    if start % part_size or last >= total or size <= 0 or (size != part_size and last != total - 1):
        raise BoxError(416, "range_mismatch", "The part does not match the session's part size and file size")
    data = await request.body()
    sandbox(request).stats.received(len(data))
    if len(data) != size:
        raise BoxError(416, "range_mismatch", "The body length does not match the Content-Range")
    sha1 = hashlib.sha1(data, usedforsecurity=False)
    if sha1.digest() != expected:
        raise BoxError(412, "precondition_failed", "The Digest header does not match the part's SHA-1")
    existing = store.one("SELECT * FROM upload_parts WHERE session_id = ? AND offset = ?", s["id"], start)
    if existing is not None and existing["sha1"] != sha1.hexdigest():
        raise BoxError(409, "conflict", "A different part was already uploaded at this offset")
    part_id = existing["part_id"] if existing is not None else secrets.token_hex(4).upper()
    (store.dir / "sessions" / s["id"] / f"{start:016d}").write_bytes(data)
    with store.tx():
        store.db.execute(
            "INSERT OR REPLACE INTO upload_parts (session_id, part_id, offset, size, sha1) "
            "VALUES (?,?,?,?,?)",
            (s["id"], part_id, start, size, sha1.hexdigest()),
        )
    return ok({"part": {"part_id": part_id, "offset": start, "size": size, "sha1": sha1.hexdigest()}})


async def list_parts(request: Request) -> Response:
    store, _, s = _session(request)
    limit = limit_param(request)
    offset = int_param(request, "offset", 0)
    total = int(store.scalar("SELECT COUNT(*) FROM upload_parts WHERE session_id = ?", s["id"]) or 0)
    rows = store.all(
        "SELECT * FROM upload_parts WHERE session_id = ? ORDER BY offset LIMIT ? OFFSET ?",
        s["id"],
        limit,
        offset,
    )
    entries = [
        {"part_id": r["part_id"], "offset": r["offset"], "size": r["size"], "sha1": r["sha1"]} for r in rows
    ]
    return ok({"total_count": total, "limit": limit, "offset": offset, "order": [], "entries": entries})


async def plan(request: Request) -> Response:
    _, _, s = _session(request)
    body = await json_body(request)
    parts = body.get("parts")
    if not isinstance(parts, list):
        raise bad_request("'parts' must be a list")
    # the sandbox keeps no cross-session part cache: every planned part must be uploaded
    return ok({"upload_session_id": s["id"], "hits": [], "misses": parts})


async def commit(request: Request) -> Response:
    store, actor_id, s = _session(request)
    expected = _digest(request)
    body = await json_body(request)
    parts = body.get("parts")
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise bad_request("'parts' is required and must be a list of parts")
    stored = store.all("SELECT * FROM upload_parts WHERE session_id = ? ORDER BY offset", s["id"])
    given = sorted((str(p.get("part_id")), p.get("offset"), p.get("size")) for p in parts)
    have = sorted((str(r["part_id"]), r["offset"], r["size"]) for r in stored)
    if given != have:
        raise bad_request("The parts do not match the uploaded parts of the session", "bad_request")
    if sum(int(r["size"]) for r in stored) != int(s["total_size"]):
        raise bad_request("Not all parts of the file were uploaded", "bad_request")
    folder_dir = store.dir / "sessions" / s["id"]
    tmp = store.dir / "tmp" / uuid.uuid4().hex
    h = hashlib.sha1(usedforsecurity=False)
    with tmp.open("wb") as out:
        for r in stored:
            data = (folder_dir / f"{int(r['offset']):016d}").read_bytes()
            h.update(data)
            out.write(data)
    if h.digest() != expected:
        tmp.unlink()
        raise BoxError(422, "checksum_mismatch", "The Digest of the whole file does not match its content")
    sha1 = h.hexdigest()
    store.store_blob(tmp, sha1)
    size = int(s["total_size"])
    if s["file_id"] is None:
        file_id = items.create_file(
            store,
            int(s["folder_id"]),
            _owner(store, s),
            actor_id,
            str(s["file_name"]),
            (size, sha1, "disk", sha1),
        )
    else:
        current = items.get_item(store, actor_id, s["file_id"], "file")
        wanted = request.headers.get("if-match")
        if wanted is not None and wanted.strip('"') != str(current["sequence_id"]):
            raise BoxError(412, "precondition_failed", "The file has changed since the session began")
        items.new_version(store, current, actor_id, (size, sha1, "disk", sha1), name=str(s["file_name"]))
        file_id = int(current["id"])
    _drop(store, s)
    row = store.item(file_id)
    assert row is not None
    renderer = context(request)[2]
    return ok({"total_count": 1, "entries": [renderer.item(row, fields_param(request))]}, 201)


def _owner(store: Store, s: Row) -> int:
    folder = store.item(int(s["folder_id"])) if s["folder_id"] else None
    return int(folder["owner_id"]) if folder is not None else int(s["user_id"])


def _drop(store: Store, s: Row) -> None:
    with store.tx():
        store.db.execute("DELETE FROM upload_parts WHERE session_id = ?", (s["id"],))
        store.db.execute("DELETE FROM upload_sessions WHERE id = ?", (s["id"],))
    shutil.rmtree(store.dir / "sessions" / s["id"], ignore_errors=True)


async def abort(request: Request) -> Response:
    store, _, s = _session(request)
    _drop(store, s)
    return Response(status_code=204)


async def log_event(request: Request) -> Response:
    _session(request)
    return ok({})


routes = [
    Route("/api/2.0/files/upload_sessions", create_session, methods=["POST"]),
    Route("/api/2.0/files/upload_sessions/{session_id}", get_session, methods=["GET"]),
    Route("/api/2.0/files/upload_sessions/{session_id}", upload_part, methods=["PUT"]),
    Route("/api/2.0/files/upload_sessions/{session_id}", abort, methods=["DELETE"]),
    Route("/api/2.0/files/upload_sessions/{session_id}/parts", list_parts, methods=["GET"]),
    Route("/api/2.0/files/upload_sessions/{session_id}/commit", commit, methods=["POST"]),
    Route("/api/2.0/files/upload_sessions/{session_id}/plan", plan, methods=["POST"]),
    Route("/api/2.0/files/upload_sessions/{session_id}/log", log_event, methods=["POST"]),
    Route("/api/2.0/files/{file_id}/upload_sessions", create_version_session, methods=["POST"]),
]
