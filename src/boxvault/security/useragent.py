"""Just enough User-Agent parsing for an audit line ("Chrome", "Firefox"); order matters because every
Chromium-based browser also claims to be Chrome and Safari."""

from __future__ import annotations

_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-requests/", "Python"),
    ("python-httpx/", "Python"),
)


def browser_name(user_agent: str) -> str:
    for marker, name in _BROWSERS:
        if marker in user_agent:
            return name
    return "Unknown browser"
