"""Box's error object, raised anywhere in a handler and rendered by the app's exception handler."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse

HELP_URL = "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"


class BoxError(Exception):
    """An API error answered as `{type: "error", status, code, message, context_info, help_url,
    request_id}`.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        context_info: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.context_info = context_info
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "error",
            "status": self.status,
            "code": self.code,
            "help_url": HELP_URL,
            "message": self.message,
            "request_id": uuid.uuid4().hex[:14],
        }
        if self.context_info is not None:
            body["context_info"] = self.context_info
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


class OAuthError(Exception):
    """The token endpoint answers RFC 6749 errors `{error, error_description}`, not Box's error object."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "error_description": self.description}, status_code=self.status
        )


def bad_request(message: str, code: str = "bad_request", **context: Any) -> BoxError:
    return BoxError(400, code, message, context or None)


def not_found(kind: str = "item") -> BoxError:
    return BoxError(404, "not_found", f"Not Found: the {kind} does not exist or you cannot access it")


def trashed(kind: str) -> BoxError:
    return BoxError(404, "trashed", f"Item is trashed: the {kind} is in the trash")


def forbidden(message: str = "Access denied - insufficient permission") -> BoxError:
    return BoxError(403, "access_denied_insufficient_permissions", message)


def unauthorized(message: str = "Unauthorized") -> BoxError:
    return BoxError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="Service"'})
