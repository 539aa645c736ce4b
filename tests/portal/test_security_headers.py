"""Content-Security-Policy without inline script, HSTS over TLS, cookies scripts cannot read."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.fixtures import login

PAGES = ["/", "/settings/", "/users/", "/users/add/", "/audit/", "/jobs/", "/activity/", "/recovery/"]


def _directives(policy: str) -> dict[str, str]:
    return {d.split()[0]: d for d in (p.strip() for p in policy.split(";")) if d}


def test_portal_pages_have_a_policy_and_no_inline_script(client: Any, admin: Any) -> None:
    login(client, admin.user)
    for path in [*PAGES, "/no-such-page/"]:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        policy = _directives(response["Content-Security-Policy"])
        assert policy["script-src"] == "script-src 'self'", path
        assert "unsafe-inline" not in policy["style-src"] and policy["frame-ancestors"].endswith("'none'")
        html = response.content.decode()
        # what the policy would refuse: inline script, event-handler attributes, style attributes/elements
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert not re.search(r"\sstyle\s*=|<style", html), path


def test_sign_in_page_has_no_inline_script(client: Any, db: Any) -> None:
    html = client.get("/accounts/login/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|<style", html)


def test_the_error_page_style_is_allowed_by_hash(client: Any, db: Any) -> None:
    from boxvault.portal.middleware import _error_page_style_hash

    assert _error_page_style_hash().startswith(" 'sha256-")
    assert _error_page_style_hash() in client.get("/accounts/login/")["Content-Security-Policy"]


def test_api_docs_load_their_start_up_script_from_the_origin(client: Any, admin: Any) -> None:
    login(client, admin.user)
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert _directives(page["Content-Security-Policy"])["script-src"] == "script-src 'self'"
    script = re.search(r'<script src="([^"]*\?script=[^"]*)"', html)
    assert script and client.get(script.group(1).replace("&amp;", "&")).status_code == 200


def test_cookies_are_http_only(client: Any, admin: Any) -> None:
    response = client.get("/accounts/login/")
    assert response.cookies["csrftoken"]["httponly"]
    response = client.post("/accounts/login/", {"login": "admin@a.example", "password": _password()})
    assert response.cookies["sessionid"]["httponly"]


def _password() -> str:
    from portal.fixtures import PASSWORD

    return PASSWORD


@pytest.mark.parametrize("secure", [True, False])
def test_hsts_only_over_tls(client: Any, db: Any, settings: Any, secure: bool) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/accounts/login/", secure=secure)
    assert ("Strict-Transport-Security" in response) is secure
