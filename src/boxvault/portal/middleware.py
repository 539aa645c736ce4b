from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse

from boxvault.portal import views


class HealthCheckMiddleware:
    """Answers /healthz and /readyz before host validation and HTTPS redirects: probes reach the process by
    its own address over plain HTTP, and neither is a reason to call it unhealthy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            return views.healthz(request)
        if request.path_info == "/readyz":
            return views.readyz(request)
        return self.get_response(request)


@cache
def _error_page_style_hash() -> str:
    """The 500 page renders without static files (the error may be anywhere): its one <style> is allowed
    by hash, so the policy still has no 'unsafe-inline'."""
    text = (Path(__file__).parent / "templates" / "500.html").read_text(encoding="utf-8")
    match = re.search(r"<style>(.*?)</style>", text, re.S)
    if not match:
        return ""
    digest = base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()
    return f" 'sha256-{digest}'"


# The portal's pages load htmx and their stylesheets from the same origin and have no inline script, style
# element or event handler: anything injected (a stored name echoed unescaped, say) cannot run.
PORTAL_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'{style}; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# Swagger UI and Redoc (the API documentation pages) set styles at run time and Redoc starts a blob: worker;
# their scripts still come only from this origin (the Swagger page's start-up script too, served split).
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/api/docs/", "/api/redoc/")


class ContentSecurityPolicyMiddleware:
    """Adds a Content-Security-Policy to every HTML answer that does not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            docs = request.path_info.startswith(DOCS_PATHS)
            policy = DOCS_POLICY if docs else PORTAL_POLICY.format(style=_error_page_style_hash())
            response["Content-Security-Policy"] = policy
        return response
