from __future__ import annotations

from collections.abc import Callable

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
