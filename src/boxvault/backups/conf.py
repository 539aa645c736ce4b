"""Where the portal's own Box OAuth app comes from: the environment, read when used (so `serve --demo` can
fill it from the sandbox it starts)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from boxvault.box.connect import BOX_API_URL, Limits
from boxvault.core.env import env_str

BOX_AUTHORIZE_URL = "https://account.box.com/api/oauth2/authorize"


@dataclass(frozen=True)
class BoxApp:
    client_id: str
    client_secret: str
    api_url: str
    authorize_url: str

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


def box_app() -> BoxApp:
    api_url = env_str("BOXVAULT_BOX_API_URL", BOX_API_URL).rstrip("/") or BOX_API_URL
    default_authorize = BOX_AUTHORIZE_URL if api_url == BOX_API_URL else api_url + "/api/oauth2/authorize"
    return BoxApp(
        client_id=env_str("BOXVAULT_BOX_CLIENT_ID"),
        client_secret=env_str("BOXVAULT_BOX_CLIENT_SECRET"),
        api_url=api_url,
        authorize_url=env_str("BOXVAULT_BOX_AUTHORIZE_URL", default_authorize),
    )


def normalize_api_url(url: str) -> str:
    """`scheme://host[:port][/path]` in one spelling (lower-case scheme and host, no trailing slash), or a
    `ServiceError`-ready ValueError for anything with a query, fragment, user name or path trickery: the
    tenant must not be able to choose the endpoint's path (an api_url ending in `?` would have let it)."""
    text = (url or "").strip()
    if not text:
        return ""
    if any(c.isspace() or ord(c) < 32 for c in text) or any(c in text for c in "?#@\\%;"):
        raise ValueError("The Box API URL must be a plain https://host[:port] address.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("The Box API URL must be a plain https://host[:port] address.") from None
    path = parts.path.rstrip("/")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or ".." in path or "//" in path:
        raise ValueError("The Box API URL must be a plain https://host[:port] address.")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}{path}"


def allowed_api_urls() -> list[str]:
    """The Box API base URLs a task may use: the operator's own (`BOXVAULT_BOX_API_URL`, Box's by default) and
    those of `BOXVAULT_BOX_API_URLS` (comma-separated; `serve --demo` and the tests add their sandbox). Read
    when used, so `serve --demo` can fill it after start-up."""
    urls = [box_app().api_url, *env_str("BOXVAULT_BOX_API_URLS").split(",")]
    allowed: list[str] = []
    for url in urls:
        try:
            normalized = normalize_api_url(url)
        except ValueError as exc:
            raise ImproperlyConfigured(f"BOXVAULT_BOX_API_URLS: {url!r} is not a plain base URL") from exc
        if normalized and normalized not in allowed:
            allowed.append(normalized)
    return allowed


def checked_api_url(url: str | None) -> str:
    """The task's api_url if the operator allows it ("" = the operator's own); ValueError otherwise."""
    normalized = normalize_api_url(url or "")
    if not normalized:
        return ""
    if normalized not in allowed_api_urls():
        raise ValueError(
            "This Box API URL is not allowed on this server (the operator sets BOXVAULT_BOX_API_URLS)."
        )
    return normalized


def run_limits() -> Limits:
    """Limits of a backup run. Box asks for about 1,000 calls a minute per user (16/s); a local sandbox (the
    demo) needs none: `BOXVAULT_BOX_RATE_PER_USER=0`."""
    raw = env_str("BOXVAULT_BOX_RATE_PER_USER", "16")
    try:
        rate = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"BOXVAULT_BOX_RATE_PER_USER={raw!r} is not a number") from exc
    return Limits(per_user_rps=max(0.0, rate))
