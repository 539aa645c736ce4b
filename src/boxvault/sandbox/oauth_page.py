"""The OAuth 2.0 authorize page `GET|POST /api/oauth2/authorize`: pick a sandbox user and grant access."""

from __future__ import annotations

import html
import json
import secrets
import time
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .auth import CODE_TTL
from .errors import bad_request
from .runtime import sandbox
from .store import Store, is_id

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Box sandbox - grant access</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}}
button{{padding:.5em 1.2em;margin-right:1em}}</style>
</head><body>
<h1>Grant access to Box</h1>
<p><strong>{app}</strong> would like to access the files and folders of a user of the Box sandbox.</p>
<form method="post" action="authorize">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="state" value="{state}">
<label for="user_id">Sign in as</label>
<select id="user_id" name="user_id">{options}</select>
<p><button type="submit" name="decision" value="grant" id="grant">Grant access to Box</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button></p>
</form></body></html>"""


def _redirect_uri(store: Store, client_id: str, given: str) -> str:
    app = store.one("SELECT * FROM apps WHERE client_id = ?", client_id)
    if app is None:
        raise bad_request("Unknown client_id", "invalid_client")
    registered: list[str] = json.loads(app["redirect_uris"] or "[]")
    if given:
        if registered and given not in registered:
            raise bad_request("The redirect_uri is not registered for this app", "invalid_redirect_uri")
        if not given.startswith(("http://", "https://")):
            raise bad_request("The redirect_uri must be an http(s) URL", "invalid_redirect_uri")
        return given
    if not registered:
        raise bad_request("redirect_uri is required (the app has none registered)", "invalid_redirect_uri")
    return registered[0]


def _issue_code(store: Store, client_id: str, user_id: int, redirect_uri: str, state: str) -> Response:
    code = secrets.token_urlsafe(24)
    with store.tx():
        store.db.execute(
            "INSERT INTO auth_codes (code, client_id, user_id, redirect_uri, expires_at) VALUES (?,?,?,?,?)",
            (code, client_id, user_id, redirect_uri, time.time() + CODE_TTL),
        )
    query = {"code": code, **({"state": state} if state else {})}
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(query)}", status_code=302)


async def authorize_page(request: Request) -> Response:
    store = sandbox(request).store
    q = request.query_params
    if q.get("response_type", "code") != "code":
        raise bad_request("response_type must be 'code'", "unsupported_response_type")
    client_id = q.get("client_id", "")
    redirect_uri = _redirect_uri(store, client_id, q.get("redirect_uri", ""))
    state = q.get("state", "")
    auto = store.setting("auto_approve_user_id")
    if auto is not None and store.user(int(auto)) is not None:
        return _issue_code(store, client_id, int(auto), redirect_uri, state)
    users = store.all(
        "SELECT * FROM users WHERE deleted = 0 AND is_service = 0 AND status = 'active' ORDER BY id"
    )
    options = "".join(
        f'<option value="{u["id"]}">{html.escape(u["name"])} &lt;{html.escape(u["login"])}&gt;</option>'
        for u in users
    )
    app = store.one("SELECT name FROM apps WHERE client_id = ?", client_id)
    page = PAGE.format(
        app=html.escape(app["name"] if app else client_id),
        client_id=html.escape(client_id),
        redirect_uri=html.escape(redirect_uri),
        state=html.escape(state),
        options=options,
    )
    return HTMLResponse(page)


async def authorize_submit(request: Request) -> Response:
    store = sandbox(request).store
    form = await request.form()
    client_id = str(form.get("client_id", ""))
    redirect_uri = _redirect_uri(store, client_id, str(form.get("redirect_uri", "")))
    state = str(form.get("state", ""))
    if form.get("decision") != "grant":
        query = {"error": "access_denied", "error_description": "The user denied access to your application"}
        if state:
            query["state"] = state
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{sep}{urlencode(query)}", status_code=302)
    raw = str(form.get("user_id", ""))
    user = store.user(int(raw)) if is_id(raw) else None
    if user is None or user["status"] != "active":
        raise bad_request("Pick an active sandbox user")
    return _issue_code(store, client_id, int(user["id"]), redirect_uri, state)


routes = [
    Route("/api/oauth2/authorize", authorize_page, methods=["GET"]),
    Route("/api/oauth2/authorize", authorize_submit, methods=["POST"]),
]
