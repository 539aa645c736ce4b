"""A task's live connection to Box, built from its sealed credentials."""

from __future__ import annotations

from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError

from boxvault.backups import vault
from boxvault.backups.conf import box_app
from boxvault.backups.models import Task
from boxvault.backups.tokens import TaskRefreshLock, TaskTokenStorage
from boxvault.box.connect import (
    BoxConnection,
    CCGCredentials,
    Credentials,
    JWTCredentials,
    Limits,
    OAuthCredentials,
    connect,
)


def credentials(task: Task) -> Credentials:
    if task.kind == Task.Kind.OAUTH:
        app = box_app()
        return OAuthCredentials(app.client_id, app.client_secret, TaskTokenStorage(task.pk))
    data = vault.get_json(task, "credentials") or {}
    if task.kind == Task.Kind.JWT:
        return JWTCredentials(config_json=data["config_json"])
    return CCGCredentials(data["client_id"], data["client_secret"], data["enterprise_id"])


def open_connection(task: Task, limits: Limits | None = None) -> BoxConnection:
    conn = connect(
        credentials(task), api_url=task.api_url or None, limits=limits, lock=TaskRefreshLock(task.pk)
    )
    # box.connect treats every OAuth grant as one user's own; an administrator's grant covers the enterprise.
    conn.impersonate = task.acts_as_users
    return conn


def describe(exc: BaseException) -> str:
    """A sentence for the task's status and the job log, never a traceback."""
    if isinstance(exc, BoxAPIError):
        info = exc.response_info
        message = info.body.get("message", "") if isinstance(info.body, dict) else ""
        return f"Box answered {info.status_code} {info.code or ''}: {message}".strip()
    if isinstance(exc, BoxSDKError):
        return str(exc.message if hasattr(exc, "message") else exc)[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def is_auth_failure(exc: BaseException) -> bool:
    """The grant is gone (revoked, expired refresh token, wrong client secret): the task is Disconnected."""
    if isinstance(exc, BoxAPIError):
        info = exc.response_info
        return info.status_code in (400, 401) and (
            "oauth2/token" in (exc.request_info.url or "") or info.status_code == 401
        )
    if isinstance(exc, BoxSDKError):
        return "tokens not available" in str(exc).lower() or "refresh" in str(exc).lower()
    return False
