"""Two middlewares: who is asking (before anything reads REMOTE_ADDR), and the account's security policies
(after authentication) for every session request — pages, the session API and downloads. Token requests are
checked by the API's authentication class through `enforcement.check_token_user`."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from boxvault.security import enforcement
from boxvault.security.addresses import is_trusted_proxy, resolve_client

_FORWARDING_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_FORWARDED",
)


class ClientAddressMiddleware:
    """REMOTE_ADDR becomes the client's address: X-Forwarded-For counts only when the peer is one of
    BOXVAULT_TRUSTED_PROXIES, and forwarding headers from anyone else are dropped so nothing later (HTTPS
    detection, audit, lock-out, the allow-list) can be fooled by them. IPv4-mapped IPv6 peers read as IPv4."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        peer = str(meta.get("REMOTE_ADDR") or "")
        client = resolve_client(peer, meta.get("HTTP_X_FORWARDED_FOR"))
        if not is_trusted_proxy(peer):
            for header in _FORWARDING_HEADERS:
                meta.pop(header, None)
        meta["REMOTE_ADDR"] = client
        if "HTTP_HOST" not in meta and request.path_info.startswith("/accounts/saml/"):
            # python3-saml reads the Host header directly; an HTTP/1.0 client may not send one
            meta["HTTP_HOST"] = request.get_host()
        return self.get_response(request)


class SecurityPolicyMiddleware:
    """IP allow-list, enforced 2FA and password expiry for signed-in members (see `enforcement`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            refusal = enforcement.check_session(request, user)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # allauth's SAML ACS refuses a response that answers no sign-in of this browser with a bare
        # PermissionDenied (a replay): give it the same plain refusal and audit row as other bad responses.
        match = request.resolver_match
        if (
            isinstance(exception, PermissionDenied)
            and match is not None
            and match.url_name == "saml_finish_acs"
        ):
            from boxvault.security.saml import refuse_replay

            return refuse_replay(request, str(match.kwargs.get("organization_slug", "")))
        return None
