"""Downloads: `GET /2.0/files/{id}/content` redirects to a short-lived signed URL `/dl/...` that serves bytes.

The `/dl` URL carries its own HMAC signature (like dl.boxcloud.com), so it works without the access token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import content, items
from ..errors import BoxError, not_found
from ..runtime import base_url, sandbox
from ..store import Row, Store
from .common import context

URL_TTL = 900
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _secret(store: Store) -> bytes:
    value = store.setting("download_secret")
    if value is None:
        with store.tx():
            value = store.setting("download_secret")
            if value is None:
                value = secrets.token_hex(32)
                store.set_setting("download_secret", value)
    return value.encode()


def _sign(store: Store, file_id: int, version_id: int, expires: int) -> str:
    msg = f"{file_id}:{version_id}:{expires}".encode()
    return hmac.new(_secret(store), msg, hashlib.sha256).hexdigest()[:32]


async def file_content(request: Request) -> Response:
    store, actor, _ = context(request)
    row = items.get_item(store, actor.id, request.path_params["file_id"], "file")
    items.require(store, actor.id, row, "download")
    version_id = int(row["version_id"])
    raw_version = request.query_params.get("version")
    if raw_version:
        version = store.one(
            "SELECT id FROM versions WHERE id = ? AND file_id = ?",
            items.parse_id(raw_version, "file_version"),
            row["id"],
        )
        if version is None:
            raise not_found("file_version")
        version_id = int(version["id"])
    if sandbox(request).faults.not_ready(request.url.path):
        # Box: "If the file is not ready to be downloaded yet, Retry-After header will be returned"
        retry = str(sandbox(request).faults.config.retry_after)
        return Response(status_code=202, headers={"Retry-After": retry})
    expires = int(time.time()) + URL_TTL
    sig = _sign(store, int(row["id"]), version_id, expires)
    return RedirectResponse(
        f"{base_url(request)}/dl/{row['id']}/{version_id}/{expires}/{sig}", status_code=302
    )


class InjectedReset(ConnectionResetError):
    """Raised after part of a body was sent: the server then drops the connection (a fault, not a bug)."""


class DownloadResponse(Response):
    """Streams content straight to the ASGI server in large chunks (faster than StreamingResponse)."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        status_code: int,
        headers: dict[str, str],
        on_bytes: tuple[Request, str],
        reset_after: int | None,
    ) -> None:
        super().__init__(status_code=status_code, headers=headers)
        self.chunks = chunks
        self.on_bytes = on_bytes
        self.reset_after = reset_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        request, file_id = self.on_bytes
        stats = sandbox(request).stats
        sent = 0
        try:
            for chunk in self.chunks:
                if self.reset_after is not None and sent + len(chunk) > self.reset_after:
                    cut = self.reset_after - sent
                    if cut > 0:
                        await send({"type": "http.response.body", "body": chunk[:cut], "more_body": True})
                        sent += cut
                    # aborting after the headers makes the server drop the connection mid-body
                    raise InjectedReset("sandbox fault: connection reset in the middle of the body")
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            stats.served(sent)
            stats.download(file_id, sent)


def open_version(store: Store, version: Row, start: int, end: int) -> Iterator[bytes]:
    if version["source"] == "gen":
        return content.generate(str(version["ref"]), int(version["size"]), start, end)
    return content.read_file(store.blob_path(str(version["sha1"])), start, end)


async def dl(request: Request) -> Response:
    sb = sandbox(request)
    store = sb.store
    try:
        file_id = int(request.path_params["file_id"])
        version_id = int(request.path_params["version_id"])
        expires = int(request.path_params["expires"])
    except ValueError:
        raise not_found("download") from None
    sig = str(request.path_params["sig"])
    if not hmac.compare_digest(sig, _sign(store, file_id, version_id, expires)):
        raise BoxError(403, "forbidden", "The download URL signature is invalid")
    if expires < time.time():
        raise BoxError(403, "forbidden", "The download URL has expired")
    version = store.one("SELECT * FROM versions WHERE id = ? AND file_id = ?", version_id, file_id)
    row = store.one("SELECT * FROM items WHERE id = ?", file_id)
    if version is None or row is None or row["purged"]:
        raise not_found("file")
    size = int(version["size"])
    start, end = 0, size
    status = 200
    headers = {
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(str(version['name']))}",
        "ETag": f'"{version["sha1"]}"',
    }
    range_header = request.headers.get("range")
    if range_header and sb.faults.ignore_range(request.url.path):
        range_header = None
    if range_header:
        m = RANGE_RE.match(range_header.strip())
        if m is None or (not m.group(1) and not m.group(2)):
            raise BoxError(
                416,
                "requested_range_not_satisfiable",
                "The Range header is malformed",
                headers={"Content-Range": f"bytes */{size}"},
            )
        if m.group(1):
            start = int(m.group(1))
            end = min(size, int(m.group(2)) + 1) if m.group(2) else size
        else:
            start = max(0, size - int(m.group(2)))
        if start >= size or start >= end:
            raise BoxError(
                416,
                "requested_range_not_satisfiable",
                "The requested range is not satisfiable",
                headers={"Content-Range": f"bytes */{size}"},
            )
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    reset_after = (end - start) // 2 if getattr(request.state, "reset_body", False) else None
    chunks = open_version(store, version, start, end)
    if getattr(request.state, "corrupt_body", False):
        chunks = _corrupted(chunks)
    return DownloadResponse(chunks, status, headers, (request, str(file_id)), reset_after)


def _corrupted(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The same bytes with the first one changed (the `corrupt_next` fault)."""
    changed = False
    for chunk in chunks:
        if not changed and chunk:
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
            changed = True
        yield chunk


routes = [
    Route("/2.0/files/{file_id}/content", file_content, methods=["GET"]),
    Route("/dl/{file_id}/{version_id}/{expires}/{sig}", dl, methods=["GET"]),
]
