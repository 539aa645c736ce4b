"""A task's live connection to Box, built from its sealed credentials."""

from __future__ import annotations

import requests
from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError

from boxvault.backups import vault
from boxvault.backups.conf import box_app, checked_api_url
from boxvault.backups.models import Task
from boxvault.backups.tokens import TaskRefreshLock, TaskTokenStorage
from boxvault.box.connect import (
    BOX_API_URL,
    BoxConnection,
    CCGCredentials,
    Credentials,
    JWTCredentials,
    Limits,
    NotBox,
    OAuthCredentials,
    connect,
)
from boxvault.box.tokens import ThreadRefreshLock
from boxvault.core.egress import EgressRefused


def api_url(task: Task) -> str | None:
    """The task's Box API base URL, checked against the operator's allow-list on every connection (a task
    saved before the allow-list existed, or whose URL the operator has since removed, connects nowhere)."""
    try:
        url = checked_api_url(task.api_url) or box_app().api_url  # "": wherever the operator says Box is
    except ValueError as exc:
        raise EgressRefused(str(exc)) from None
    return None if url.rstrip("/") == BOX_API_URL else url


def credentials(task: Task) -> Credentials:
    if task.kind == Task.Kind.OAUTH:
        app = box_app()
        return OAuthCredentials(app.client_id, app.client_secret, TaskTokenStorage(task.pk))
    data = vault.get_json(task, "credentials") or {}
    if task.kind == Task.Kind.JWT:
        return JWTCredentials(config_json=data["config_json"])
    return CCGCredentials(data["client_id"], data["client_secret"], data["enterprise_id"])


def open_connection(task: Task, limits: Limits | None = None) -> BoxConnection:
    # Only an OAuth grant's tokens are shared (in the task's row) between workers; CCG/JWT tokens live in
    # the connection's memory and need no lock beyond the connection's own.
    lock = TaskRefreshLock(task.pk) if task.kind == Task.Kind.OAUTH else ThreadRefreshLock()
    conn = connect(credentials(task), api_url=api_url(task), limits=limits, lock=lock)
    # box.connect treats every OAuth grant as one user's own; an administrator's grant covers the enterprise.
    conn.impersonate = task.acts_as_users
    return conn


def describe(exc: BaseException) -> str:
    """A sentence for the task's status and the job log, never a traceback, and never the text of a network
    error (it would tell a tenant what answered on some port: see docs/operations.md, Egress)."""
    if isinstance(exc, EgressRefused | NotBox):
        return str(exc)
    cause = exc.error if isinstance(exc, BoxSDKError) and exc.error is not None else exc
    if isinstance(cause, requests.Timeout):
        return "Box did not answer in time."
    if isinstance(cause, requests.RequestException | OSError):
        return "Could not connect to Box."
    if isinstance(exc, BoxAPIError):
        info = exc.response_info
        message = info.body.get("message", "") if isinstance(info.body, dict) else ""
        return f"Box answered {info.status_code} {info.code or ''}: {message}".strip()
    if isinstance(exc, BoxSDKError):
        return str(exc.message if hasattr(exc, "message") else exc).splitlines()[0][:300]
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
