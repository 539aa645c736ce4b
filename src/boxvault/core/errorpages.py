"""Friendly error pages: HTML for people, JSON under /api/, never a traceback."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import get_template


def _error(request: HttpRequest, template: str, status: int, **context: Any) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": context.get("reason") or template.removesuffix(".html")}, status=status
        )
    return HttpResponse(get_template(template).render(context, request), status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, "400.html", 400, reason="Bad request.")


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception) if exception and str(exception) else "You do not have access to this page."
    return _error(request, "403.html", 403, reason=reason)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, "404.html", 404, reason="Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors, no database: the error may be the database.
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return HttpResponse(get_template("500.html").render({}), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # Usually an expired page or blocked cookies; say so rather than show Django's developer text.
    return _error(
        request,
        "403.html",
        403,
        reason="Your session or form expired. Reload the page and try again (cookies must be enabled).",
    )
