"""Access tokens: the OAuth 2.0 token and revoke endpoints, and who a request acts as (As-User included)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import BoxError, OAuthError, forbidden, unauthorized
from .runtime import sandbox
from .store import Row, Store, is_id

ACCESS_TTL = 3600
REFRESH_TTL = 60 * 24 * 3600
CODE_TTL = 30
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class Actor:
    user: Row  # the user the request acts as (the As-User target when given)
    token_user: Row  # the owner of the access token

    @property
    def id(self) -> int:
        return int(self.user["id"])

    @property
    def is_admin(self) -> bool:
        return bool(self.user["is_service"]) or self.user["role"] in ("admin", "coadmin")


def issue_access(store: Store, client_id: str, user_id: int, ttl: int = ACCESS_TTL) -> str:
    token = secrets.token_urlsafe(24)
    store.db.execute(
        "INSERT INTO tokens (token, kind, client_id, user_id, expires_at) VALUES (?, 'access', ?, ?, ?)",
        (token, client_id, user_id, time.time() + ttl),
    )
    return token


def _issue_pair(store: Store, client_id: str, user_id: int) -> dict[str, object]:
    with store.tx():
        access = issue_access(store, client_id, user_id)
        refresh = secrets.token_urlsafe(48)
        store.db.execute(
            "INSERT INTO tokens (token, kind, client_id, user_id, expires_at, pair) VALUES (?, "
            "'refresh', ?, ?, ?, ?)",
            (refresh, client_id, user_id, time.time() + REFRESH_TTL, access),
        )
    return {
        "access_token": access,
        "expires_in": ACCESS_TTL,
        "restricted_to": [],
        "refresh_token": refresh,
        "token_type": "bearer",
    }


def _access_only(store: Store, client_id: str, user_id: int) -> dict[str, object]:
    with store.tx():
        access = issue_access(store, client_id, user_id)
    return {"access_token": access, "expires_in": ACCESS_TTL, "restricted_to": [], "token_type": "bearer"}


def _client(store: Store, form: dict[str, str], need_secret: bool = True) -> Row:
    client_id = form.get("client_id", "")
    app = store.one("SELECT * FROM apps WHERE client_id = ?", client_id)
    if app is None or (
        need_secret and not secrets.compare_digest(form.get("client_secret", ""), app["client_secret"])
    ):
        raise OAuthError("invalid_client", "The client credentials are invalid")
    return app


def _active_user(store: Store, user_id: str) -> Row:
    if not is_id(user_id):
        raise OAuthError(
            "invalid_grant", "Please check the 'sub' claim / subject id: it is not a valid user id"
        )
    user = store.user(int(user_id))
    if user is None:
        raise OAuthError("invalid_grant", "Please check the 'sub' claim / subject id: user not found")
    if user["status"] == "inactive":
        raise OAuthError("invalid_grant", "The user is not active")
    return user


def _subject(store: Store, app: Row, subject_type: str, subject_id: str) -> int:
    if subject_type == "enterprise":
        if subject_id != store.setting("enterprise_id"):
            raise OAuthError("invalid_grant", "Grant credentials are invalid: unknown enterprise")
        return int(app["service_user_id"])
    if subject_type == "user":
        return int(_active_user(store, subject_id)["id"])
    raise OAuthError("invalid_request", "box_subject_type must be 'enterprise' or 'user'")


async def token_endpoint(request: Request) -> Response:
    store = sandbox(request).store
    try:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    except Exception:  # noqa: BLE001 - any unparsable body is the client's mistake
        form = {}
    try:
        grant = form.get("grant_type", "")
        if not grant:
            raise OAuthError("invalid_request", "Invalid grant_type parameter or parameter missing")
        if grant == "client_credentials":
            app = _client(store, form)
            user_id = _subject(store, app, form.get("box_subject_type", ""), form.get("box_subject_id", ""))
            return JSONResponse(_access_only(store, app["client_id"], user_id))
        if grant == "authorization_code":
            app = _client(store, form)
            return JSONResponse(_exchange_code(store, app, form))
        if grant == "refresh_token":
            app = _client(store, form)
            return JSONResponse(_refresh(store, app, form.get("refresh_token", "")))
        if grant == JWT_GRANT:
            app = _client(store, form)
            user_id = _jwt_subject(store, app, form.get("assertion", ""))
            return JSONResponse(_access_only(store, app["client_id"], user_id))
        raise OAuthError("unsupported_grant_type", "Grant type is not supported")
    except OAuthError as e:
        return e.response()


def _exchange_code(store: Store, app: Row, form: dict[str, str]) -> dict[str, object]:
    code = form.get("code", "")
    with store.tx():
        row = store.one("SELECT * FROM auth_codes WHERE code = ?", code)
        if row is None or row["used"] or row["client_id"] != app["client_id"]:
            raise OAuthError("invalid_grant", "Auth code doesn't exist or is invalid for the client")
        if row["expires_at"] < time.time():
            raise OAuthError("invalid_grant", "The authorization code has expired")
        redirect = form.get("redirect_uri")
        if redirect and row["redirect_uri"] and redirect != row["redirect_uri"]:
            raise OAuthError("invalid_grant", "The redirect_uri does not match the authorization request")
        store.db.execute("UPDATE auth_codes SET used = 1 WHERE code = ?", (code,))
        return _issue_pair(store, app["client_id"], int(row["user_id"]))


def _refresh(store: Store, app: Row, token: str) -> dict[str, object]:
    with store.tx():
        row = store.one("SELECT * FROM tokens WHERE token = ? AND kind = 'refresh'", token)
        # single use: a refresh token that was already exchanged is as dead as an expired one
        if row is None or row["used"] or row["revoked"] or row["client_id"] != app["client_id"]:
            raise OAuthError("invalid_grant", "Invalid refresh token")
        if row["expires_at"] < time.time():
            raise OAuthError("invalid_grant", "Refresh token has expired")
        store.db.execute("UPDATE tokens SET used = 1 WHERE token = ?", (token,))
        return _issue_pair(store, app["client_id"], int(row["user_id"]))


def _jwt_subject(store: Store, app: Row, assertion: str) -> int:
    if not app["public_key"]:
        raise OAuthError("invalid_client", "The app has no registered public key")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "Invalid JWT assertion") from None
    if app["public_key_id"] and header.get("kid") != app["public_key_id"]:
        raise OAuthError("invalid_grant", "kid invalid, unable to lookup correct key")
    try:
        # any `aud` is accepted: the SDK hard-codes box.com's token URL
        claims = jwt.decode(
            assertion,
            app["public_key"],
            algorithms=["RS256", "RS384", "RS512"],
            options={"verify_aud": False, "require": ["exp", "iss", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise OAuthError(
            "invalid_grant",
            "Current date time must be before the expiration date time listed in the 'exp' claim",
        ) from None
    except jwt.InvalidSignatureError:
        raise OAuthError(
            "invalid_grant",
            "Signature verification error. The public key identified by kid must correspond to the private "
            "key used for signing",
        ) from None
    except jwt.PyJWTError as e:
        raise OAuthError("invalid_grant", f"Invalid JWT assertion: {e}") from None
    jti = str(claims.get("jti", ""))
    with store.tx():
        store.db.execute("DELETE FROM jwt_ids WHERE expires_at < ?", (time.time(),))
        if store.scalar("SELECT 1 FROM jwt_ids WHERE jti = ?", jti):
            raise OAuthError(
                "invalid_grant", "Please check the 'jti' claim. A unique 'jti' value is required."
            )
        store.db.execute(
            "INSERT INTO jwt_ids (jti, expires_at) VALUES (?, ?)", (jti, float(claims["exp"]) + 60)
        )
    if claims.get("iss") != app["client_id"]:
        raise OAuthError("invalid_grant", "Please check the 'iss' claim.")
    return _subject(store, app, str(claims.get("box_sub_type", "")), str(claims.get("sub", "")))


async def revoke_endpoint(request: Request) -> Response:
    store = sandbox(request).store
    try:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    except Exception:  # noqa: BLE001
        form = {}
    try:
        app = _client(store, form)
    except OAuthError as e:
        return e.response()
    token = form.get("token", "")
    with store.tx():
        row = store.one("SELECT * FROM tokens WHERE token = ? AND client_id = ?", token, app["client_id"])
        if row is not None:
            store.db.execute(
                "UPDATE tokens SET revoked = 1 WHERE token = ? OR token = ?", (token, row["pair"])
            )
            store.db.execute("UPDATE tokens SET revoked = 1 WHERE pair = ?", (token,))
    return Response(status_code=200)


def authenticate(request: Request, upload: bool = False) -> Actor:
    """The request's actor, or Box's 401; also applies a forced expiry fault and the per-user rate limit."""
    sb = sandbox(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("The access token is missing: send 'Authorization: Bearer <token>'")
    token = token.strip()
    row = sb.store.one("SELECT * FROM tokens WHERE token = ? AND kind = 'access'", token)
    if getattr(request.state, "expire_token", False) and row is not None:
        with sb.store.tx():
            sb.store.db.execute("UPDATE tokens SET expires_at = 0 WHERE token = ?", (token,))
        row = sb.store.one("SELECT * FROM tokens WHERE token = ? AND kind = 'access'", token)
    if row is None or row["revoked"]:
        raise unauthorized("The access token provided is invalid")
    if row["expires_at"] < time.time():
        raise unauthorized("The access token provided has expired")
    token_user = sb.store.user(int(row["user_id"]))
    if token_user is None or token_user["status"] == "inactive":
        raise unauthorized("The user of this access token is not active")
    actor = Actor(user=token_user, token_user=token_user)
    as_user = request.headers.get("as-user")
    if as_user is not None:
        if not (token_user["is_service"] or token_user["role"] in ("admin", "coadmin")):
            raise forbidden("The As-User header requires an admin or service account token")
        target = sb.store.user(int(as_user)) if is_id(as_user.strip()) else None
        if target is None:
            raise BoxError(404, "not_found", "The user in the As-User header does not exist")
        # the restricted statuses (cannot_delete_edit[_upload]) are active users with fewer rights
        if target["status"] == "inactive":
            raise BoxError(403, "access_denied_insufficient_permissions", "The As-User user is not active")
        actor = Actor(user=target, token_user=token_user)
    wait = sb.limiter.check(int(token_user["id"]) if as_user is None else actor.id, upload)
    if wait is not None:
        raise BoxError(
            429,
            "rate_limit_exceeded",
            "Request rate limit exceeded, please try again later",
            headers={"Retry-After": str(int(wait + 0.999))},
        )
    request.state.user_id = actor.id
    return actor


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise forbidden("This operation requires an enterprise admin or service account token")
