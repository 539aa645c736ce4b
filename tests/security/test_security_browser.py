"""Enforced 2FA and password expiry in Chromium against the live server, with the portal clock moved forward.

The administrator (TOTP already set up) signs in with a code and turns both policies on in Settings >
Security.
A member whose password is then older than the limit signs in, is sent to change it (the current password is
refused as the new one), is then taken to 2FA set-up and reaches nothing else until it is done.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from boxvault.core import clock
from portal.fixtures import PASSWORD
from support.browser import axe_violations, chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_PASSWORD = "Brand-New-Browser-Pass-3"


def _code(secret: str) -> str:
    """The current TOTP code, never one about to expire: a code typed in a window's last seconds may be
    checked in the next one, which the server (no tolerance) refuses (seen once in CI, under load)."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    left = 30 - time.time() % 30
    if left < 6:
        time.sleep(left + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def _sign_in(page: Any, url: str, login: str, password: str) -> None:
    page.goto(url + "/accounts/login/")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")


def test_enforced_2fa_and_password_expiry(
    live_server: Any, admin: Any, restricted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from boxvault.security.models import AuditEvent, SecurityPolicy

    admin_secret = generate_totp_secret()
    TOTP.activate(admin.user, admin_secret)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    url = live_server.url
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.set_default_timeout(20_000)
        _sign_in(page, url, admin.user.email, PASSWORD)
        page.fill("input[name=code]", _code(admin_secret))
        page.click("form button[type=submit]")
        page.wait_for_url(url + "/")
        page.goto(url + "/settings/")
        page.click("text=Security settings")
        assert axe_violations(page) == []
        assert page.inner_text("#my-2fa") == "On"
        assert page.inner_text("#your-ip") == "127.0.0.1"
        page.check("input[name=enforce_2fa]")
        page.fill("input[name=password_max_age_days]", "30")
        page.click("text=Save policies")
        assert "Security policies saved." in page.inner_text("main")
        policy = SecurityPolicy.objects.get(account=admin.account)
        assert policy.enforce_2fa and policy.password_max_age_days == 30

        with clock.frozen_at(clock.now() + timedelta(days=31)):
            member = browser.new_context().new_page()
            member.set_default_timeout(20_000)
            _sign_in(member, url, restricted.user.email, PASSWORD)
            member.wait_for_url("**/accounts/password/change/")
            assert "Your password has expired" in member.inner_text("main")
            member.goto(url + "/settings/")
            assert member.url.endswith("/accounts/password/change/")
            member.fill("input[name=oldpassword]", PASSWORD)
            member.fill("input[name=password1]", PASSWORD)
            member.fill("input[name=password2]", PASSWORD)
            member.click("main form button[type=submit]")
            assert "must differ from the current one" in member.inner_text("main")
            member.fill("input[name=oldpassword]", PASSWORD)
            member.fill("input[name=password1]", NEW_PASSWORD)
            member.fill("input[name=password2]", NEW_PASSWORD)
            member.click("main form button[type=submit]")
            # next stop: two-factor set-up, and nothing else
            member.goto(url + "/settings/security/")
            assert "requires two-factor authentication" in member.inner_text("main")
            if "/accounts/reauthenticate/" in member.url:  # allauth confirms the password first
                member.fill("input[name=password]", NEW_PASSWORD)
                member.click("main form button[type=submit]")
            member.wait_for_url("**/accounts/2fa/totp/activate/")
            api = member.request.get(url + "/api/v1/me/")
            assert api.status == 403 and "two-factor" in api.json()["detail"]
            secret = member.input_value("#authenticator_secret")
            member.fill("input[name=code]", _code(secret))
            member.click("main form button[type=submit]")
            member.wait_for_url("**/accounts/2fa/recovery-codes/**")
            member.goto(url + "/settings/security/")
            assert member.url == url + "/settings/security/"
            assert member.inner_text("#my-2fa") == "On"
            assert "Password expiration: 30 days" in member.inner_text("main")
            assert member.request.get(url + "/api/v1/me/").status == 200
    activities = set(AuditEvent.objects.filter(user=restricted.user).values_list("activity", flat=True))
    assert {"password_changed", "mfa_changed", "sign_in"} <= activities


def test_sign_in_with_sso_in_chromium(
    live_server: Any, admin: Any, restricted: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing member signs in through the account's SAML IdP (a real one on loopback)."""
    from boxvault.accounts.access import for_user
    from boxvault.security.models import AuditEvent
    from boxvault.security.saml import SamlInput, update_saml
    from security.saml_idp import running_idp

    settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.0/8"]
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    url = live_server.url
    with running_idp() as idp, chromium() as browser:
        update_saml(
            for_user(admin.user),
            SamlInput(enabled=True, slug="acme", metadata_url=idp.url + "/metadata", domains=["a.example"]),
        )
        idp.email = restricted.user.email
        page = browser.new_context().new_page()
        page.set_default_timeout(20_000)
        page.goto(url + "/accounts/login/")
        page.click("#sso-link")
        assert axe_violations(page) == []
        page.fill("input[name=identifier]", restricted.user.email)
        page.click("main form button[type=submit]")
        page.wait_for_url("**/accounts/saml/acme/login/**")
        page.click("main form button[type=submit]")  # allauth's "Continue" (no sign-in on GET)
        page.wait_for_url(url + "/")  # through the IdP's auto-posted form and the ACS
        me = page.request.get(url + "/api/v1/me/")
        assert me.status == 200 and me.json()["email"] == restricted.user.email
        assert len(idp.requests) == 1 and idp.requests[0]["acs"] == url + "/accounts/saml/acme/acs/"
    assert AuditEvent.objects.filter(
        description__startswith="SAML Sign In (OK)", user=restricted.user
    ).exists()
