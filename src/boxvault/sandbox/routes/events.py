# ruff: noqa: S608 - SQL from fixed fragments; values are always bound parameters
"""The event stream `GET /2.0/events`: user streams (changes, sync, all) and the enterprise's admin_logs."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import require_admin
from ..errors import bad_request
from ..items import ADMIN_EVENT
from ..runtime import base_url, sandbox
from ..store import Row, is_id
from .common import context, ok

STREAM_TYPES = ("all", "changes", "sync", "admin_logs", "admin_logs_streaming")


def _event(row: Row, user: dict[str, Any], admin: bool) -> dict[str, Any]:
    source: dict[str, Any] = json.loads(row["source"])
    event_type = row["event_type"]
    if admin and source.get("type") == "user":
        # Box's admin events about a user (NEW_USER, EDIT_USER, DELETE_USER) carry the user as their source
        source = {k: source[k] for k in ("type", "id", "name", "login") if k in source}
    elif admin:
        event_type = ADMIN_EVENT.get(event_type, event_type)
        source = {
            "item_type": source.get("type"),
            "item_id": source.get("id"),
            "item_name": source.get("name"),
            "parent": source.get("parent"),
            "owned_by": source.get("owned_by"),
        }
    return {
        "type": "event",
        "event_id": row["event_id"],
        "event_type": event_type,
        "created_at": row["created_at"],
        "recorded_at": row["created_at"],
        "created_by": user,
        "source": source,
    }


async def get_events(request: Request) -> Response:
    store, actor, renderer = context(request)
    stream_type = request.query_params.get("stream_type", "all")
    if stream_type not in STREAM_TYPES:
        raise bad_request(f"stream_type must be one of {', '.join(STREAM_TYPES)}")
    admin = stream_type.startswith("admin_logs")
    if admin:
        require_admin(actor)
    raw_limit = request.query_params.get("limit", "100")
    if not is_id(raw_limit) or not 1 <= int(raw_limit) <= 500:
        raise bad_request("limit must be an integer between 1 and 500")
    limit = int(raw_limit)
    position = request.query_params.get("stream_position", "0")
    if admin:
        where, args = "json_extract(source, '$.owned_by.id') = CAST(user_id AS TEXT)", []
    else:
        where, args = "user_id = ?", [actor.id]
    if position == "now":
        latest = store.scalar(f"SELECT MAX(id) FROM events WHERE {where}", *args) or 0  # nosec B608 # identifiers are constants, values bound as parameters
        latest = max(int(latest), int(store.scalar("SELECT MAX(id) FROM events") or 0))
        return ok({"chunk_size": 0, "next_stream_position": str(latest), "entries": []})
    if not is_id(position) or len(position) > 19:
        raise bad_request("stream_position must be 'now', '0' or a position returned by the API")
    rows = store.all(
        f"SELECT * FROM events WHERE {where} AND id > ? ORDER BY id LIMIT ?",  # nosec B608 # identifiers are constants, values bound as parameters
        *args,
        int(position),
        limit,
    )
    delivered = rows
    if not admin:
        faults = sandbox(request).faults
        earlier: list[Row] = []
        if faults.config.event_redelivery and int(position) > 0:
            # events this stream already delivered before `position`, which may come again
            earlier = store.all(
                f"SELECT * FROM events WHERE {where} AND id <= ? ORDER BY id DESC LIMIT ?",  # nosec B608 # constant identifiers, bound values
                *args,
                int(position),
                limit,
            )
        delivered = faults.events_page(rows, earlier)
    entries = [_event(r, renderer.user(int(r["created_by"])), admin) for r in delivered]
    next_position = int(rows[-1]["id"]) if rows else max(int(position), 0)
    if not rows and int(position) == 0:
        next_position = int(store.scalar("SELECT MAX(id) FROM events") or 0)
    return ok({"chunk_size": len(entries), "next_stream_position": str(next_position), "entries": entries})


LONG_POLL_SECONDS = 30.0


async def long_poll_info(request: Request) -> Response:
    """`OPTIONS /2.0/events`: where to long-poll (Box answers a realtime server; here the same host)."""
    context(request)
    stream_type = request.query_params.get("stream_type", "all")
    server = {
        "type": "realtime_server",
        "url": f"{base_url(request)}/2.0/events/longpoll?stream_type={stream_type}",
        "ttl": "10",
        "max_retries": "10",
        "retry_timeout": int(LONG_POLL_SECONDS),
    }
    return ok({"chunk_size": 1, "entries": [server]})


async def long_poll(request: Request) -> Response:
    """Waits until the user's stream has an event after `stream_position`: `new_change`, else `reconnect`."""
    store, actor, _ = context(request)
    position = request.query_params.get("stream_position", "now")
    if position == "now":
        after = int(store.scalar("SELECT MAX(id) FROM events") or 0)
    elif is_id(position):
        after = int(position)
    else:
        raise bad_request("stream_position must be 'now' or a position returned by the API")
    deadline = time.monotonic() + LONG_POLL_SECONDS
    while time.monotonic() < deadline:
        if store.scalar("SELECT 1 FROM events WHERE user_id = ? AND id > ? LIMIT 1", actor.id, after):
            return ok({"message": "new_change"})
        if await request.is_disconnected():
            break
        await asyncio.sleep(0.25)
    return ok({"message": "reconnect"})


routes = [
    Route("/2.0/events", get_events, methods=["GET"]),
    Route("/2.0/events", long_poll_info, methods=["OPTIONS"]),
    Route("/2.0/events/longpoll", long_poll, methods=["GET"]),
]
