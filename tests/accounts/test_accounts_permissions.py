"""Every page and endpoint with an administrator, a restricted member and an outsider (another tenant's
admin).

The restricted member may only view settings and support. Pages without an id show the caller's own account,
so an outsider gets 200 there but must never see Acme's data; pages with one of Acme's ids answer 404 to the
outsider.
"""

from __future__ import annotations

from typing import Any

import pytest

ADMIN, RESTRICTED, OUTSIDER = "admin", "restricted", "outsider"

# (method, url with {member} = an Acme member id, expected status per role)
PAGES = [
    ("get", "/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("get", "/settings/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("post", "/settings/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 302}),
    ("get", "/settings/remove/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("get", "/settings/tokens/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("get", "/users/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("get", "/users/add/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("get", "/users/{member}/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/users/{member}/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
    ("get", "/users/{member}/remove/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/users/{member}/remove/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
    ("get", "/audit/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("get", "/audit/export.csv", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("get", "/support/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
]
API = [
    ("get", "/api/v1/me/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("get", "/api/v1/account/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("patch", "/api/v1/account/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("get", "/api/v1/members/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("post", "/api/v1/members/", {ADMIN: 201, RESTRICTED: 403, OUTSIDER: 201}),
    ("get", "/api/v1/members/{member}/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("patch", "/api/v1/members/{member}/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("delete", "/api/v1/members/{member}/", {ADMIN: 204, RESTRICTED: 403, OUTSIDER: 404}),
    ("get", "/api/v1/audit/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("get", "/api/v1/audit/?format=csv", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
]
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/settings/"): {"name": "Renamed", "email": "owner@example.com"},
    ("post", "/users/{member}/"): {"role": "custom", "operations": ["view_support"], "services": ["box"]},
    ("patch", "/api/v1/account/"): {"name": "Renamed"},
    ("post", "/api/v1/members/"): {"email": "new@example.com", "operations": ["view_backups"]},
    ("patch", "/api/v1/members/{member}/"): {"operations": ["view_support"]},
}
CASES = [(m, u, role, codes[role]) for m, u, codes in PAGES + API for role in (ADMIN, RESTRICTED, OUTSIDER)]


@pytest.fixture
def acme_target(admin: Any) -> Any:
    """A plain Acme member the id-bearing URLs point at (so removing it does not remove the caller)."""
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member

    return add_member(for_user(admin.user), email="target@a.example", operations=["view_support"])


@pytest.mark.parametrize(
    ("method", "url", "role", "expected"), CASES, ids=[f"{m} {u} as {r}" for m, u, r, _ in CASES]
)
def test_access(
    client: Any,
    admin: Any,
    restricted: Any,
    outsider: Any,
    acme_target: Any,
    method: str,
    url: str,
    role: str,
    expected: int,
) -> None:
    caller = {ADMIN: admin, RESTRICTED: restricted, OUTSIDER: outsider}[role]
    client.force_login(caller.user, backend="allauth.account.auth_backends.AuthenticationBackend")
    body = BODIES.get((method, url), {})
    target = url.format(member=acme_target.pk)
    if url.startswith("/api/"):
        response = getattr(client, method)(target, body, content_type="application/json")
    else:
        response = getattr(client, method)(target, body)
    assert response.status_code == expected, response.content[:500]
    if role == OUTSIDER and response.status_code == 200:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"a.example" not in content and b"Acme" not in content


@pytest.mark.parametrize(("method", "url"), [(m, u) for m, u, _ in PAGES + API])
def test_anonymous_is_sent_to_sign_in(client: Any, acme_target: Any, method: str, url: str) -> None:
    target = url.format(member=acme_target.pk)
    response = getattr(client, method)(target)
    if url.startswith("/api/"):
        assert response.status_code in (401, 403)
        assert b"credentials were not provided" in response.content
    else:
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_user_without_account_is_refused(client: Any, db: Any) -> None:
    from boxvault.accounts.models import User

    loner = User.objects.create_user("loner@example.com", "x" * 12)
    client.force_login(loner, backend="allauth.account.auth_backends.AuthenticationBackend")
    assert client.get("/settings/").status_code == 403
    assert client.get("/api/v1/account/").status_code == 403
