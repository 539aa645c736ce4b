"""The ASGI application: Box's routes, the control API, Box's error object for every failure, faults,
stats.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import auth, oauth_page
from .control import routes as control_routes
from .errors import BoxError, OAuthError
from .routes import (
    collab,
    copies,
    download,
    events,
    files,
    folders,
    groups,
    links,
    metadata,
    uploads,
    users,
)
from .routes.download import InjectedReset
from .runtime import Sandbox

log = logging.getLogger("boxvault.sandbox")

HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "request_too_large"}


async def box_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BoxError)
    return exc.response()


async def oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return exc.response()


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "bad_request")
    message = {404: "Not Found: no such API endpoint", 405: "Method Not Allowed"}.get(
        exc.status_code, str(exc.detail)
    )
    return BoxError(exc.status_code, code, message).response()


async def server_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, InjectedReset):
        raise exc  # an injected fault: the server drops the connection, nothing to log
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return BoxError(500, "internal_server_error", "Internal Server Error").response()


class FaultsAndStats:
    """Outermost middleware: counts every answer by route and status and injects the configured faults."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox, routes: list[BaseRoute]) -> None:
        self.app = app
        self.sandbox = sandbox
        self.routes = routes

    def route_name(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE and isinstance(route, Route):
                return route.path
        return "(unmatched)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = self.route_name(scope)
        status_holder = {"status": 0}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
            await send(message)

        decision = self.sandbox.faults.decide(path, is_download=path.startswith("/dl/"))
        try:
            if decision.latency:
                await asyncio.sleep(decision.latency)
            if decision.status is not None:
                await self.fault_response(decision.status, scope, receive, counting_send)
                return
            state: dict[str, Any] = scope.setdefault("state", {})
            state["reset_body"] = decision.reset
            state["corrupt_body"] = decision.corrupt
            state["expire_token"] = decision.expire_token
            await self.app(scope, receive, counting_send)
        finally:
            self.sandbox.stats.request(scope["method"], route, status_holder["status"])

    async def fault_response(self, status: int, scope: Scope, receive: Receive, send: Send) -> None:
        headers: dict[str, str] = {}
        if status == 429:
            headers["Retry-After"] = str(self.sandbox.faults.config.retry_after)
            error = BoxError(
                429,
                "rate_limit_exceeded",
                "Request rate limit exceeded, please try again later",
                None,
                headers,
            )
        elif status == 500:
            error = BoxError(500, "internal_server_error", "Internal Server Error (injected fault)")
        elif status == 502:
            error = BoxError(502, "bad_gateway", "Bad Gateway (injected fault)")
        else:
            error = BoxError(503, "unavailable", "Service Unavailable (injected fault)")
        await error.response()(scope, receive, send)


def build_routes() -> list[BaseRoute]:
    return [
        Route("/oauth2/token", auth.token_endpoint, methods=["POST"]),
        Route("/oauth2/revoke", auth.revoke_endpoint, methods=["POST"]),
        *oauth_page.routes,
        *users.routes,
        *folders.routes,
        *download.routes,
        *uploads.routes,
        *files.routes,
        *collab.routes,
        *copies.routes,
        *metadata.routes,
        *links.routes,
        *groups.routes,
        *events.routes,
        *control_routes,
    ]


def create_app(data_dir: Path) -> FaultsAndStats:
    sandbox = Sandbox(data_dir)
    routes = build_routes()
    app = Starlette(
        routes=routes,
        exception_handlers={
            BoxError: box_error,
            OAuthError: oauth_error,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    app.state.sandbox = sandbox
    return FaultsAndStats(app, sandbox, routes)
