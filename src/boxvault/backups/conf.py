"""Where the portal's own Box OAuth app comes from: the environment, read when used (so `serve --demo` can
fill it from the sandbox it starts)."""

from __future__ import annotations

from dataclasses import dataclass

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


def run_limits() -> Limits:
    """Limits of a backup run. Box asks for about 1,000 calls a minute per user (16/s); a local sandbox (the
    demo) needs none: `BOXVAULT_BOX_RATE_PER_USER=0`."""
    raw = env_str("BOXVAULT_BOX_RATE_PER_USER", "16")
    try:
        rate = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"BOXVAULT_BOX_RATE_PER_USER={raw!r} is not a number") from exc
    return Limits(per_user_rps=max(0.0, rate))
