"""Shared links, set through `PUT /2.0/files|folders/{id}` with a `shared_link` object (or null to remove),
and found again through `GET /2.0/shared_items` (the link in the `BoxApi` header)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import items
from ..errors import BoxError, bad_request, not_found
from ..runtime import base_url
from ..store import Row, Store
from .common import context, fields_param, ok

# the sandbox keeps a link's password as a salted hash beside the link, never in what it renders
PASSWORD_KEY = "_password_sha256"


def _password_hash(password: str, token: str) -> str:
    return hashlib.sha256(f"{token}:{password}".encode()).hexdigest()


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
        password = raw.get("password")
        if password is not None and (not isinstance(password, str) or len(password) < 8):
            raise bad_request("shared_link.password must be a string of at least 8 characters")
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
        if password:
            link[PASSWORD_KEY] = _password_hash(password, token)
        elif "password" not in raw and old.get(PASSWORD_KEY):  # an update that leaves the password as it is
            link[PASSWORD_KEY], link["is_password_enabled"] = old[PASSWORD_KEY], True
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


async def shared_item(request: Request) -> Response:
    """`GET /2.0/shared_items` with `BoxApi: shared_link=<url>[&shared_link_password=<password>]`: the item
    the link points to, as the caller may see it (a `collaborators` link only for a collaborator)."""
    store, actor, renderer = context(request)
    header = parse_qs(request.headers.get("boxapi", ""), keep_blank_values=True)
    url = (header.get("shared_link") or [""])[0]
    token = url.rstrip("/").rsplit("/", 1)[-1] if "/s/" in url else ""
    if not token:
        raise bad_request("The BoxApi header must carry shared_link=<the link's URL>")
    row = next(
        (
            r
            for r in store.all(
                "SELECT * FROM items WHERE shared_link LIKE ? AND purged = 0", f'%/s/{token}"%'
            )
            if json.loads(r["shared_link"]).get("url", "").endswith(f"/s/{token}")
        ),
        None,
    )
    if row is None or row["trashed_at"]:
        raise not_found("shared item")
    link = json.loads(row["shared_link"])
    if link.get("access") == "collaborators" and not items.can_access(store, actor.id, row):
        raise not_found("shared item")
    expected = link.get(PASSWORD_KEY)
    if expected:
        given = (header.get("shared_link_password") or [""])[0]
        if not hmac.compare_digest(expected, _password_hash(given, token)):
            # assumed: Box's documentation names no code for a wrong or missing password
            raise BoxError(
                403, "incorrect_shared_item_password", "The shared link's password is missing or wrong"
            )
    return ok(renderer.item(row, fields_param(request)))


routes = [Route("/2.0/shared_items", shared_item, methods=["GET"])]
