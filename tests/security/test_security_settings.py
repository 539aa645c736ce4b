"""Settings > Security in process: the page and API permissions, policies, enforced 2FA, password expiry
(with the portal's fake clock), the IP allow-list and the client address behind proxies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from boxvault.api.tokens import create_token
from boxvault.core import clock
from boxvault.security.models import AuditEvent, IpRule, SecurityPolicy
from portal.fixtures import PASSWORD, login

ADMIN, RESTRICTED, OUTSIDER = "admin", "restricted", "outsider"


def token_client(member: Any, address: str = "127.0.0.1") -> APIClient:
    _, key = create_token(member.user, "tests")
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def acme_rule(admin: Any) -> IpRule:
    return IpRule.objects.create(
        account=admin.account,
        description="office",
        kind="addresses",
        value="127.0.0.1",
        created_at=clock.now(),
    )


# --- permissions: admin, restricted (view settings only), outsider (another tenant's admin), anonymous

PAGES = [
    ("get", "/settings/security/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("post", "/settings/security/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 302}),
    ("get", "/settings/security/ip/{rule}/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/settings/security/ip/{rule}/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/settings/security/ip/{rule}/delete/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/settings/security/saml/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 302}),
]
API = [
    ("get", "/api/v1/security/policy/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("put", "/api/v1/security/policy/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("get", "/api/v1/security/ip-rules/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("post", "/api/v1/security/ip-rules/", {ADMIN: 201, RESTRICTED: 403, OUTSIDER: 201}),
    ("get", "/api/v1/security/ip-rules/{rule}/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 404}),
    ("delete", "/api/v1/security/ip-rules/{rule}/", {ADMIN: 204, RESTRICTED: 403, OUTSIDER: 404}),
    ("get", "/api/v1/security/saml/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("put", "/api/v1/security/saml/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
]
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/settings/security/"): {"action": "policy", "password_max_age_days": "90"},
    ("post", "/settings/security/ip/{rule}/"): {"description": "hq", "addresses": "127.0.0.1, 10.0.0.0/8"},
    ("put", "/api/v1/security/policy/"): {"enforce_2fa": False, "password_max_age_days": 30},
    ("post", "/api/v1/security/ip-rules/"): {"description": "lab", "cidr": "127.0.0.0/8"},
    ("post", "/settings/security/saml/"): {"default_role": "custom", "domains": "example.org"},
    ("put", "/api/v1/security/saml/"): {"create_members": False},
}
CASES = [(m, u, role, codes[role]) for m, u, codes in PAGES + API for role in (ADMIN, RESTRICTED, OUTSIDER)]


@pytest.mark.parametrize(
    ("method", "url", "role", "expected"), CASES, ids=[f"{m} {u} as {r}" for m, u, r, _ in CASES]
)
def test_access(
    client: Any,
    admin: Any,
    restricted: Any,
    outsider: Any,
    acme_rule: IpRule,
    method: str,
    url: str,
    role: str,
    expected: int,
) -> None:
    caller = {ADMIN: admin, RESTRICTED: restricted, OUTSIDER: outsider}[role]
    login(client, caller.user)
    body = BODIES.get((method, url), {})
    target = url.format(rule=acme_rule.pk)
    if url.startswith("/api/"):
        response = getattr(client, method)(target, body, content_type="application/json")
    else:
        response = getattr(client, method)(target, body)
    assert response.status_code == expected, response.content[:500]
    if role == OUTSIDER and response.status_code in (200, 201):
        assert b"office" not in response.content and b"Acme" not in response.content


@pytest.mark.parametrize(("method", "url"), [(m, u) for m, u, _ in PAGES + API])
def test_anonymous(client: Any, acme_rule: IpRule, method: str, url: str) -> None:
    response = getattr(client, method)(url.format(rule=acme_rule.pk))
    if url.startswith("/api/"):
        assert response.status_code in (401, 403) and b"credentials were not provided" in response.content
    else:
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_restricted_sees_read_only_page(client: Any, admin: Any, restricted: Any, acme_rule: IpRule) -> None:
    login(client, restricted.user)
    page = client.get("/settings/security/").content.decode()
    assert "Your IP address" in page and "127.0.0.1" in page and "office" in page
    assert 'name="action"' not in page  # no forms


# --- policies


def test_policy_page_and_api_are_audited(client: Any, admin: Any) -> None:
    login(client, admin.user)
    response = client.post(
        "/settings/security/", {"action": "policy", "enforce_2fa": "on", "password_max_age_days": "90"}
    )
    assert response.status_code == 302
    policy = SecurityPolicy.objects.get(account=admin.account)
    assert policy.enforce_2fa and policy.password_max_age_days == 90
    event = AuditEvent.objects.filter(activity="security_changed").get()
    assert "Enforce two-factor authentication turned on" in event.description
    assert "Password expiration set to 90 days" in event.description
    assert event.performed_by == "admin@a.example" and event.ip == "127.0.0.1"

    api = token_client(admin)
    # the admin has no TOTP: with 2FA enforced, their token is refused until it is set up
    refused = api.get("/api/v1/security/policy/")
    assert refused.status_code == 403 and "two-factor" in refused.json()["detail"]
    SecurityPolicy.objects.filter(account=admin.account).update(enforce_2fa=False)
    assert api.get("/api/v1/security/policy/").json() == {
        "enforce_2fa": False,
        "password_max_age_days": 90,
        "ip_restrictions": False,
    }
    assert (
        api.put("/api/v1/security/policy/", {"password_max_age_days": None}, format="json").json()[
            "password_max_age_days"
        ]
        is None
    )
    assert AuditEvent.objects.filter(description="Password expiration turned off").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"password_max_age_days": 0},
        {"password_max_age_days": -5},
        {"password_max_age_days": 100000},
        {"password_max_age_days": "soon"},
        {"enforce_2fa": "maybe"},
        {"ip_restrictions": True},  # no entries yet
    ],
)
def test_policy_bad_input(admin: Any, body: dict[str, Any]) -> None:
    response = token_client(admin).put("/api/v1/security/policy/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()
    assert not AuditEvent.objects.filter(activity="security_changed").exists()


# --- enforced two-factor authentication


def _activate_totp(user: Any) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(user, generate_totp_secret())


def test_enforced_2fa_takes_member_to_setup_and_nowhere_else(
    client: Any, admin: Any, restricted: Any
) -> None:
    SecurityPolicy.objects.create(account=admin.account, enforce_2fa=True, updated_at=clock.now())
    login(client, restricted.user)
    for path in ("/", "/settings/", "/settings/security/", "/support/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/", path
    # set-up is reachable (a test-client login was never "recent", so allauth asks for the password first)
    setup = client.get("/accounts/2fa/totp/activate/", follow=True)
    assert setup.status_code == 200 and setup.redirect_chain[-1][0].startswith("/accounts/reauthenticate/")
    session_api = client.get("/api/v1/me/")
    assert session_api.status_code == 403 and "two-factor" in session_api.json()["detail"]
    api = token_client(restricted)
    refused = api.get("/api/v1/me/")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("This account requires two-factor authentication")

    _activate_totp(restricted.user)
    assert client.get("/settings/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
    assert api.get("/api/v1/me/").status_code == 200


# --- password expiration (the portal clock moves; nobody sleeps)


def test_password_expiry_sends_to_change_and_refuses_the_same_password(
    client: Any, admin: Any, restricted: Any
) -> None:
    SecurityPolicy.objects.create(account=admin.account, password_max_age_days=30, updated_at=clock.now())
    login(client, restricted.user)
    api = token_client(restricted)
    assert client.get("/").status_code == 200
    later = clock.now() + timedelta(days=31)
    with clock.frozen_at(later):
        response = client.get("/settings/")
        assert response.status_code == 302 and response["Location"] == "/accounts/password/change/"
        refused = client.get("/api/v1/me/")
        assert refused.status_code == 403 and "password has expired" in refused.json()["detail"]
        assert api.get("/api/v1/me/").status_code == 200  # a token is its own credential
        page = client.get("/accounts/password/change/")
        assert page.status_code == 200
        same = client.post(
            "/accounts/password/change/",
            {"oldpassword": PASSWORD, "password1": PASSWORD, "password2": PASSWORD},
        )
        assert same.status_code == 200 and b"must differ from the current one" in same.content
        new = "Another-Long-Pass-42"
        changed = client.post(
            "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new}
        )
        assert changed.status_code == 302
        assert client.get("/settings/").status_code == 200
        assert api.get("/api/v1/me/").status_code == 200
    with clock.frozen_at(later + timedelta(days=29)):
        assert client.get("/settings/").status_code == 200
    with clock.frozen_at(later + timedelta(days=31)):
        assert client.get("/settings/").status_code == 302


# --- IP restrictions


def test_own_ip_guard_and_first_entry_turns_restrictions_on(admin: Any) -> None:
    api = token_client(admin)
    refused = api.post(
        "/api/v1/security/ip-rules/", {"description": "vpn", "cidr": "10.0.0.0/8"}, format="json"
    )
    assert refused.status_code == 400
    assert "would exclude your IP address 127.0.0.1" in refused.json()["detail"]
    assert not IpRule.objects.exists()
    created = api.post(
        "/api/v1/security/ip-rules/",
        {"description": "office", "range": {"from": "127.0.0.1", "to": "127.0.0.1"}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["value"] == "127.0.0.1-127.0.0.1" and created.json()["kind"] == "range"
    assert api.get("/api/v1/security/policy/").json()["ip_restrictions"] is True
    # with restrictions on, any further entry is fine; removing the one holding the caller is not
    vpn = api.post("/api/v1/security/ip-rules/", {"description": "vpn", "cidr": "10.0.0.0/8"}, format="json")
    assert vpn.status_code == 201
    refused = api.delete(f"/api/v1/security/ip-rules/{created.json()['id']}/")
    assert refused.status_code == 400 and "127.0.0.1" in refused.json()["detail"]
    assert api.delete(f"/api/v1/security/ip-rules/{vpn.json()['id']}/").status_code == 204
    # the last entry goes: restrictions turn off with it
    assert api.delete(f"/api/v1/security/ip-rules/{created.json()['id']}/").status_code == 204
    assert api.get("/api/v1/security/policy/").json()["ip_restrictions"] is False
    descriptions = list(
        AuditEvent.objects.filter(activity="security_changed").values_list("description", flat=True)
    )
    assert any("IP restrictions turned on" in d for d in descriptions)
    assert any("IP restrictions turned off (no entries left)" in d for d in descriptions)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"addresses": ["300.1.2.3"]}, "not an IP address"),
        ({"addresses": ["127.0.0.1, nonsense"]}, "'nonsense' is not an IP address"),
        ({"addresses": []}, "at least one"),
        ({"addresses": "127.0.0.1"}, "list"),
        ({"range": {"from": "127.0.0.9", "to": "127.0.0.1"}}, "starts after it ends"),
        ({"range": {"from": "127.0.0.1", "to": "::1"}}, "mixes IPv4 and IPv6"),
        ({"range": {"from": "127.0.0.1"}}, "to"),
        ({"cidr": "10.0.0.0/33"}, "CIDR"),
        ({"cidr": "10.0.0.0/8", "addresses": ["127.0.0.1"]}, "exactly one"),
        ({}, "exactly one"),
        ({"addresses": ["fe80::1%eth0"]}, "zone"),
        ({"addresses": ["127.0.0.1"], "description": "x" * 201}, "description"),
    ],
)
def test_ip_rule_bad_input(admin: Any, body: dict[str, Any], message: str) -> None:
    response = token_client(admin).post("/api/v1/security/ip-rules/", body, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()), response.json()
    assert not IpRule.objects.exists()


def test_ip_entry_forms(admin: Any) -> None:
    api = token_client(admin)
    body = {
        "description": "mixed",
        "addresses": [
            "127.0.0.1, 192.0.2.1 - 192.0.2.9",
            "2001:db8::/32",
            "::ffff:198.51.100.7",
            "10.1.2.3–10.1.2.4",
        ],
    }
    created = api.post("/api/v1/security/ip-rules/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["value"] == (
        "127.0.0.1, 192.0.2.1-192.0.2.9, 2001:db8::/32, 198.51.100.7, 10.1.2.3-10.1.2.4"
    )
    listed = api.get("/api/v1/security/ip-rules/").json()
    assert listed["count"] == 1 and listed["results"][0]["description"] == "mixed"


def test_ip_restrictions_refuse_pages_api_and_tokens_from_elsewhere(
    client: Any, admin: Any, restricted: Any, acme_rule: IpRule, outsider: Any
) -> None:
    SecurityPolicy.objects.create(account=admin.account, ip_restrictions=True, updated_at=clock.now())
    login(client, restricted.user)
    assert client.get("/settings/").status_code == 200
    # IPv4-mapped IPv6 (a dual-stack socket) is the IPv4 address
    assert client.get("/settings/", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200
    page = client.get("/settings/", REMOTE_ADDR="127.0.0.2")
    assert page.status_code == 403
    assert b"Access denied" in page.content and b"127.0.0.2" in page.content
    session_api = client.get("/api/v1/me/", REMOTE_ADDR="::1")
    assert session_api.status_code == 403 and "::1" in session_api.json()["detail"]
    token = token_client(restricted, address="127.0.0.2").get("/api/v1/me/")
    assert token.status_code == 403 and "127.0.0.2" in token.json()["detail"]
    assert token_client(restricted).get("/api/v1/me/").status_code == 200
    denied = AuditEvent.objects.filter(activity="access_denied", account=admin.account)
    assert denied.count() == 3
    assert {e.ip for e in denied} == {"127.0.0.2", "::1"}
    assert all(e.status == "failed" and e.performed_by == "rita@a.example" for e in denied)
    # sign-out stays possible; another account is not affected
    assert client.post("/accounts/logout/", REMOTE_ADDR="127.0.0.2").status_code == 302
    assert token_client(outsider, address="127.0.0.2").get("/api/v1/me/").status_code == 200


@pytest.mark.django_db(transaction=True)  # the e-mail leaves on commit
def test_page_add_edit_delete_and_mail_to_admins(client: Any, admin: Any, restricted: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member

    add_member(for_user(admin.user), email="second@a.example", role="admin", password=PASSWORD)
    login(client, admin.user)
    page = client.get("/settings/security/").content.decode()
    assert 'Your IP address: <strong id="your-ip">127.0.0.1</strong>' in page
    refused = client.post(
        "/settings/security/", {"action": "ip_add", "description": "x", "addresses": "10.0.0.1"}
    )
    assert (
        refused.status_code == 400 and "would exclude your IP address 127.0.0.1" in refused.content.decode()
    )
    mail.outbox.clear()
    added = client.post(
        "/settings/security/", {"action": "ip_add", "description": "office", "addresses": "127.0.0.1, ::1"}
    )
    assert added.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert set(message.to) == {"admin@a.example", "second@a.example"}  # administrators only
    assert "IP restrictions turned on" in message.body and "127.0.0.1, ::1" in message.body
    rule = IpRule.objects.get()
    edited = client.post(f"/settings/security/ip/{rule.pk}/", {"description": "hq", "addresses": "::1"})
    assert edited.status_code == 200 and "would exclude your IP address" in edited.content.decode()
    edited = client.post(
        f"/settings/security/ip/{rule.pk}/", {"description": "hq", "addresses": "127.0.0.0/24"}
    )
    assert edited.status_code == 302
    assert IpRule.objects.get().value == "127.0.0.0/24"
    assert client.post("/settings/security/", {"action": "ip_off"}).status_code == 302
    assert client.post("/settings/security/", {"action": "ip_on"}).status_code == 302
    assert client.post(f"/settings/security/ip/{rule.pk}/delete/").status_code == 302
    assert not IpRule.objects.exists()
    assert len(mail.outbox) == 5
    assert "IP restrictions are now OFF" in mail.outbox[-1].body


@pytest.mark.django_db(transaction=True)  # the e-mail leaves on commit
def test_cli_break_glass_service(admin: Any, acme_rule: IpRule) -> None:
    from boxvault.core.errors import ServiceError
    from boxvault.security.policy import lift_ip_restrictions

    SecurityPolicy.objects.create(account=admin.account, ip_restrictions=True, updated_at=clock.now())
    mail.outbox.clear()
    lift_ip_restrictions("ADMIN@a.example")
    assert SecurityPolicy.objects.get().ip_restrictions is False
    event = AuditEvent.objects.get(activity="security_changed")
    assert event.performed_by == "system" and "by the operator" in event.description
    assert len(mail.outbox) == 1 and "command line" in mail.outbox[0].body
    with pytest.raises(ServiceError):
        lift_ip_restrictions("nobody@example.com")


# --- the client address


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("127.0.0.1", "203.0.113.5", "127.0.0.1"),  # not a trusted proxy: the header is ignored
        ("127.0.0.3", "203.0.113.5", "203.0.113.5"),
        ("127.0.0.3", "198.51.100.1, 203.0.113.5", "203.0.113.5"),  # the right-most untrusted hop
        ("127.0.0.3", "203.0.113.5, 127.0.0.4", "203.0.113.5"),  # a second trusted proxy is skipped
        ("127.0.0.3", "garbage", "127.0.0.3"),
        ("::ffff:127.0.0.3", "::ffff:203.0.113.5", "203.0.113.5"),
        ("127.0.0.3", "", "127.0.0.3"),
    ],
)
def test_client_address(settings: Any, peer: str, forwarded: str, expected: str) -> None:
    from boxvault.security.addresses import resolve_client

    settings.BOXVAULT_TRUSTED_PROXIES = ["127.0.0.3", "127.0.0.4/32"]
    assert resolve_client(peer, forwarded) == expected


def test_audit_row_shows_forwarded_client(client: Any, settings: Any, admin: Any) -> None:
    settings.BOXVAULT_TRUSTED_PROXIES = ["127.0.0.3"]
    login(client, admin.user)
    client.post(
        "/settings/security/",
        {"action": "policy", "password_max_age_days": "10"},
        REMOTE_ADDR="127.0.0.3",
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    client.post(
        "/settings/security/",
        {"action": "policy", "password_max_age_days": "11"},
        REMOTE_ADDR="127.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.21",
    )
    ips = list(
        AuditEvent.objects.filter(activity="security_changed").order_by("id").values_list("ip", flat=True)
    )
    assert ips == ["198.51.100.20", "127.0.0.2"]
