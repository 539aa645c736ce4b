"""The control API under `/_sandbox/` (not part of Box): health, seed, mutate, faults, stats, users, reset.

It has no authentication: the sandbox is a local test server. See docs/sandbox.md.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import people
from .auth import issue_access
from .errors import bad_request, not_found
from .mutate import MODES, attack, mutate
from .runtime import sandbox
from .seed import CONTENT_TABLES, SeedOptions, credentials, seed
from .store import is_id, now_iso


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object")
    return data


def _int(body: dict[str, Any], name: str, default: int, minimum: int = 0) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise bad_request(f"'{name}' must be an integer >= {minimum}")
    return value


async def health(request: Request) -> Response:
    store = sandbox(request).store
    files = store.scalar("SELECT COUNT(*) FROM items WHERE type = 'file' AND purged = 0")
    users = store.scalar("SELECT COUNT(*) FROM users WHERE deleted = 0 AND is_service = 0")
    return JSONResponse(
        {"status": "ok", "seeded": store.setting("enterprise_id") is not None, "users": users, "files": files}
    )


async def do_seed(request: Request) -> Response:
    body = await _body(request)
    opts = SeedOptions(
        users=_int(body, "users", 3),
        files_per_user=_int(body, "files_per_user", 50),
        seed=_int(body, "seed", 1),
        large_files=_int(body, "large_files", 1),
    )
    return JSONResponse(seed(sandbox(request).store, opts))


async def do_mutate(request: Request) -> Response:
    body = await _body(request)
    fraction = body.get("fraction", 0.1)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
        raise bad_request("'fraction' must be a number between 0 and 1")
    mode = body.get("mode", "ordinary")
    if mode not in MODES:
        raise bad_request(f"'mode' must be one of {', '.join(MODES)}")
    if mode != "ordinary":
        user = body.get("user")
        if not isinstance(user, str | int) or isinstance(user, bool) or not str(user):
            raise bad_request("'user' (a Box user id or login) is required for this mode")
        extension = body.get("extension", ".locked")
        if not isinstance(extension, str) or len(extension) > 20 or "/" in extension:
            raise bad_request("'extension' must be a short file-name suffix")
        try:
            report = attack(
                sandbox(request).store, mode, str(user), float(fraction), _int(body, "seed", 1), extension
            )
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        return JSONResponse(report)
    return JSONResponse(mutate(sandbox(request).store, float(fraction), _int(body, "seed", 1)))


async def get_credentials(request: Request) -> Response:
    return JSONResponse(credentials(sandbox(request).store))


async def get_faults(request: Request) -> Response:
    return JSONResponse(sandbox(request).faults.config.to_json())


async def put_faults(request: Request) -> Response:
    body = await _body(request)
    try:
        cfg = sandbox(request).faults.configure(body)
    except ValueError as e:
        raise bad_request(str(e)) from None
    return JSONResponse(cfg.to_json())


async def clear_faults(request: Request) -> Response:
    return JSONResponse(sandbox(request).faults.configure({}).to_json())


async def get_stats(request: Request) -> Response:
    return JSONResponse(sandbox(request).stats.to_json())


async def reset_stats(request: Request) -> Response:
    sandbox(request).stats.reset()
    return Response(status_code=204)


async def put_rate_limit(request: Request) -> Response:
    body = await _body(request)
    limiter = sandbox(request).limiter
    limiter.configure(_int(body, "requests_per_minute", 0), _int(body, "uploads_per_minute", 0))
    return JSONResponse(limiter.to_json())


async def put_oauth(request: Request) -> Response:
    """`{auto_approve_user_id: id|null, redirect_uris: [...]}`: tests skip the authorize page's form."""
    body = await _body(request)
    store = sandbox(request).store
    with store.tx():
        if "auto_approve_user_id" in body:
            value = body["auto_approve_user_id"]
            if value is None:
                store.db.execute("DELETE FROM settings WHERE key = 'auto_approve_user_id'")
            elif store.user(int(value)) if is_id(str(value)) else None:
                store.set_setting("auto_approve_user_id", str(value))
            else:
                raise not_found("user")
        if "redirect_uris" in body:
            uris = body["redirect_uris"]
            if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
                raise bad_request("'redirect_uris' must be a list of URLs")
            store.db.execute("UPDATE apps SET redirect_uris = ?", (json.dumps(uris),))
    return JSONResponse({"auto_approve_user_id": store.setting("auto_approve_user_id")})


async def put_public_key(request: Request) -> Response:
    """Registers the app's JWT public key: `{public_key_id, public_key}` (PEM)."""
    body = await _body(request)
    key, key_id = body.get("public_key"), body.get("public_key_id")
    if not isinstance(key, str) or not isinstance(key_id, str) or "PUBLIC KEY" not in key:
        raise bad_request("'public_key' (PEM) and 'public_key_id' are required strings")
    store = sandbox(request).store
    with store.tx():
        store.db.execute("UPDATE apps SET public_key = ?, public_key_id = ?", (key, key_id))
    return JSONResponse({"public_key_id": key_id})


async def create_token(request: Request) -> Response:
    """A developer token for a user: `{user_id, expires_in}`."""
    body = await _body(request)
    store = sandbox(request).store
    user_id = str(body.get("user_id", ""))
    user = store.user(int(user_id)) if is_id(user_id) else None
    if user is None:
        raise not_found("user")
    ttl = _int(body, "expires_in", 3600, 1)
    app = store.one("SELECT client_id FROM apps LIMIT 1")
    with store.tx():
        token = issue_access(store, app["client_id"] if app else "developer", int(user["id"]), ttl)
    return JSONResponse({"access_token": token, "expires_in": ttl, "token_type": "bearer"})


async def expire_tokens(request: Request) -> Response:
    """Forced token expiry: every access token (or those of `user_id`) is expired now."""
    body = await _body(request)
    store = sandbox(request).store
    with store.tx():
        if "user_id" in body:
            cur = store.db.execute(
                "UPDATE tokens SET expires_at = ? WHERE kind = 'access' AND user_id = ?",
                (time.time() - 1, str(body["user_id"])),
            )
        else:
            cur = store.db.execute(
                "UPDATE tokens SET expires_at = ? WHERE kind = 'access'", (time.time() - 1,)
            )
    return JSONResponse({"expired": cur.rowcount})


def _user_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "login": row["login"],
        "name": row["name"],
        "role": row["role"],
        "status": row["status"],
        "kind": row["kind"],
    }


async def list_users(request: Request) -> Response:
    rows = sandbox(request).store.all("SELECT * FROM users WHERE deleted = 0 AND is_service = 0 ORDER BY id")
    return JSONResponse({"entries": [_user_json(r) for r in rows]})


async def add_user(request: Request) -> Response:
    body = await _body(request)
    store = sandbox(request).store
    row = people.create(
        store, _console_admin(store), body.get("login"), body.get("name"), body.get("role", "user"),
        body.get("kind", "managed"),
    )  # fmt: skip
    return JSONResponse(_user_json(row), status_code=201)


def _console_admin(store: Any) -> int:
    """Control-plane changes stand for an enterprise admin working in Box's admin console."""
    admin = store.scalar("SELECT id FROM users WHERE role = 'admin' AND deleted = 0 ORDER BY id LIMIT 1")
    return int(admin or 0)


async def set_user_status(request: Request) -> Response:
    store = sandbox(request).store
    raw = request.path_params["user_id"]
    action = request.path_params["action"]
    if action not in ("activate", "deactivate"):
        raise not_found("action")
    user = store.user(int(raw)) if is_id(raw) else None
    if user is None:
        raise not_found("user")
    with store.tx():
        store.db.execute(
            "UPDATE users SET status = ?, modified_at = ? WHERE id = ?",
            ("active" if action == "activate" else "inactive", now_iso(), user["id"]),
        )
    return JSONResponse(_user_json(store.user(int(user["id"]))))


async def delete_user(request: Request) -> Response:
    store = sandbox(request).store
    user = people.get(store, request.path_params["user_id"])
    # as an admin deleting a user in the console: Box deletes the user's content with the user
    people.delete(store, _console_admin(store), user, force=True)
    return Response(status_code=204)


async def reset(request: Request) -> Response:
    sb = sandbox(request)
    with sb.store.tx():
        for table in CONTENT_TABLES:
            sb.store.db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names  # nosec B608
        sb.store.db.execute("DELETE FROM settings")
    for sub in ("blobs", "sessions"):
        shutil.rmtree(sb.store.dir / sub, ignore_errors=True)
        (sb.store.dir / sub).mkdir(exist_ok=True)
    sb.stats.reset()
    sb.faults.configure({})
    sb.limiter.configure(0, 0)
    return Response(status_code=204)


routes = [
    Route("/_sandbox/health", health, methods=["GET"]),
    Route("/_sandbox/seed", do_seed, methods=["POST"]),
    Route("/_sandbox/mutate", do_mutate, methods=["POST"]),
    Route("/_sandbox/credentials", get_credentials, methods=["GET"]),
    Route("/_sandbox/faults", get_faults, methods=["GET"]),
    Route("/_sandbox/faults", put_faults, methods=["PUT", "POST"]),
    Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    Route("/_sandbox/stats", get_stats, methods=["GET"]),
    Route("/_sandbox/stats", reset_stats, methods=["DELETE"]),
    Route("/_sandbox/rate_limit", put_rate_limit, methods=["PUT"]),
    Route("/_sandbox/oauth", put_oauth, methods=["PUT"]),
    Route("/_sandbox/jwt_key", put_public_key, methods=["PUT"]),
    Route("/_sandbox/tokens", create_token, methods=["POST"]),
    Route("/_sandbox/tokens/expire", expire_tokens, methods=["POST"]),
    Route("/_sandbox/users", list_users, methods=["GET"]),
    Route("/_sandbox/users", add_user, methods=["POST"]),
    Route("/_sandbox/users/{user_id}", delete_user, methods=["DELETE"]),
    Route("/_sandbox/users/{user_id}/{action}", set_user_status, methods=["POST"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
]
