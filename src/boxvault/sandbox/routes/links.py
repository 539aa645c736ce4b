"""Shared links, set through `PUT /2.0/files|folders/{id}` with a `shared_link` object (or null to remove)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.requests import Request

from .. import items
from ..errors import bad_request
from ..runtime import base_url
from ..store import Row, Store

ACCESS_LEVELS = ("open", "company", "collaborators")


def apply_shared_link(request: Request, store: Store, row: Row, raw: Any, actor_id: int) -> None:
    if raw is None:
        link: dict[str, Any] | None = None
    else:
        if not isinstance(raw, dict):
            raise bad_request("'shared_link' must be an object or null")
        access = raw.get("access", "open")
        if access not in ACCESS_LEVELS:
            raise bad_request(f"shared_link.access must be one of {', '.join(ACCESS_LEVELS)}")
        permissions = raw.get("permissions") or {}
        if not isinstance(permissions, dict):
            raise bad_request("shared_link.permissions must be an object")
        old = json.loads(row["shared_link"]) if row["shared_link"] else {}
        token = old.get("url", "").rsplit("/", 1)[-1] or secrets.token_hex(16)
        url = f"{base_url(request)}/s/{token}"
        can_download = bool(permissions.get("can_download", True))
        link = {
            "url": url,
            "download_url": f"{base_url(request)}/shared/static/{token}" if row["type"] == "file" else None,
            "vanity_url": None,
            "vanity_name": raw.get("vanity_name") if isinstance(raw.get("vanity_name"), str) else None,
            "access": access,
            "effective_access": access,
            "effective_permission": "can_download" if can_download else "can_preview",
            "unshared_at": raw.get("unshared_at") if isinstance(raw.get("unshared_at"), str) else None,
            "is_password_enabled": bool(raw.get("password")),
            "permissions": {
                "can_download": can_download,
                "can_preview": True,
                "can_edit": bool(permissions.get("can_edit", False)),
            },
            "download_count": 0,
            "preview_count": 0,
        }
    with store.tx():
        store.db.execute(
            "UPDATE items SET shared_link = ?, sequence_id = sequence_id + 1 WHERE id = ?",
            (None if link is None else json.dumps(link), row["id"]),
        )
        if link is None:
            event = "ITEM_SHARED_UNSHARE" if row["shared_link"] else None
        else:
            event = "ITEM_SHARED_UPDATE" if row["shared_link"] else "ITEM_SHARED_CREATE"
        if event is not None:
            items.record(store, event, int(row["id"]), actor_id)
