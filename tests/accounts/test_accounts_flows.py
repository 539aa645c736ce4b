"""Sign-up to sign-in with allauth and axes, as a browser would drive them (Django's test client)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from freezegun import freeze_time

from portal.fixtures import PASSWORD

SIGNUP = {
    "email": "grace@example.com",
    "first_name": "Grace",
    "last_name": "Hopper",
    "location": "local",
    "password1": PASSWORD,
    "password2": PASSWORD,
}


def _link(message: Any) -> str:
    match = re.search(r"https?://[^/\s]+(/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def test_sign_up_activate_sign_in(client: Any, db: Any) -> None:
    from boxvault.accounts.models import Account
    from boxvault.security.models import AuditEvent

    page = client.get("/accounts/signup/")
    for field in ("first_name", "last_name", "email", "password1", "password2", "location"):
        assert f'name="{field}"' in page.content.decode()
    response = client.post("/accounts/signup/", SIGNUP)
    assert response.status_code == 302
    account = Account.objects.get()
    assert account.name == "Grace Hopper" and account.location == "local"
    assert (account.trial.ends_at - account.created_at) == timedelta(days=14)
    # Not activated yet: signing in leads to "verify your e-mail", not into the portal.
    response = client.post("/accounts/login/", {"login": SIGNUP["email"], "password": PASSWORD})
    assert "/accounts/confirm-email/" in response["Location"]
    assert client.get("/settings/").status_code == 302
    activation = [m for m in mail.outbox if "confirm-email" in m.body][-1]
    assert activation.to == ["grace@example.com"]
    response = client.get(_link(activation))
    assert response.status_code == 302
    response = client.post(
        "/accounts/login/",
        {"login": SIGNUP["email"], "password": PASSWORD},
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    )
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert b"Grace Hopper" in home.content
    descriptions = list(AuditEvent.objects.filter(account=account).values_list("description", flat=True))
    assert "Native Sign In (OK) Chrome from ip 127.0.0.1" in descriptions


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password2": "Something-else-42"}, "same password"),
        ({"email": ""}, "This field is required"),
        ({"first_name": ""}, "This field is required"),
        ({"first_name": "x" * 151}, "at most 150 characters"),
        ({"email": "x" * 320 + "@example.com"}, "at most"),
        ({"email": "not-an-address"}, "valid email"),
        ({"location": "mars"}, "Select a valid choice"),
        ({"password1": "short", "password2": "short"}, "too short"),
    ],
)
def test_sign_up_bad_input(client: Any, db: Any, change: dict[str, str], message: str) -> None:
    response = client.post("/accounts/signup/", {**SIGNUP, **change})
    assert response.status_code == 200
    assert message in response.content.decode()


def test_sign_up_duplicate_email(client: Any, admin: Any) -> None:
    response = client.post("/accounts/signup/", {**SIGNUP, "email": "ADMIN@a.example"})
    assert response.status_code == 200
    assert "already registered" in response.content.decode()


def test_lock_out_after_repeated_failures_then_cool_off(client: Any, admin: Any) -> None:
    from boxvault.security.models import AuditEvent

    start = timezone.now()
    with freeze_time(start):
        for attempt in range(1, 6):
            response = client.post(
                "/accounts/login/", {"login": "admin@a.example", "password": "wrong-password-1"}
            )
            # the fifth failure (BOXVAULT_LOCKOUT_FAILURES) is the one that locks
            assert response.status_code == (429 if attempt == 5 else 200)
        # Locked: even the right password is refused now.
        response = client.post("/accounts/login/", {"login": "admin@a.example", "password": PASSWORD})
        assert response.status_code == 429
        assert b"Too many failed sign-in attempts" in response.content
    failed = AuditEvent.objects.filter(account=admin.account, status="failed", activity="sign_in")
    assert failed.count() >= 5
    assert "Native Sign In (Failed)" in failed.first().description
    assert AuditEvent.objects.filter(account=admin.account, activity="locked_out").exists()
    with freeze_time(start + timedelta(minutes=16)):
        response = client.post("/accounts/login/", {"login": "admin@a.example", "password": PASSWORD})
        assert response.status_code == 302


def test_password_reset_end_to_end(client: Any, admin: Any) -> None:
    from boxvault.security.models import AuditEvent

    response = client.post("/accounts/password/reset/", {"email": "admin@a.example"})
    assert response.status_code == 302
    reset = mail.outbox[-1]
    assert reset.to == ["admin@a.example"]
    response = client.get(_link(reset), follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else _link(reset)
    new = "Another-Strong-Pass-77"
    response = client.post(form_url, {"password1": new, "password2": "mismatch-Pass-77"})
    assert "same password" in response.content.decode()
    response = client.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(account=admin.account, activity="password_reset").exists()
    assert (
        client.post("/accounts/login/", {"login": "admin@a.example", "password": PASSWORD}).status_code == 200
    )
    assert client.post("/accounts/login/", {"login": "admin@a.example", "password": new}).status_code == 302


def test_change_password_is_audited(client: Any, admin: Any) -> None:
    from boxvault.security.models import AuditEvent

    client.post("/accounts/login/", {"login": "admin@a.example", "password": PASSWORD})
    new = "Brand-New-Secret-55"
    response = client.post(
        "/accounts/password/change/", {"oldpassword": "nope", "password1": new, "password2": new}
    )
    assert response.status_code == 200 and "Please type your current password." in response.content.decode()
    response = client.post(
        "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(account=admin.account, activity="password_changed").exists()


def test_mfa_pages_available(client: Any, admin: Any) -> None:
    client.force_login(admin.user, backend="allauth.account.auth_backends.AuthenticationBackend")
    response = client.get("/accounts/2fa/")
    assert response.status_code == 200
    assert b"Authenticator App" in response.content


def _totp(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def test_two_factor_with_totp_and_recovery_codes(
    client: Any, admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from boxvault.security.models import AuditEvent

    client.post("/accounts/login/", {"login": "admin@a.example", "password": PASSWORD})
    response = client.get("/accounts/2fa/totp/activate/")
    if response.status_code == 302:  # allauth asks for the password again before security changes
        assert "/accounts/reauthenticate/" in response["Location"]
        client.post(response["Location"], {"password": PASSWORD})
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200
    secret = client.session["mfa.totp.secret"]
    response = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert response.status_code == 200 and "Incorrect code" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals MFA changes on commit
        response = client.post("/accounts/2fa/totp/activate/", {"code": _totp(secret)})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(account=admin.account, activity="mfa_changed").exists()
    codes_page = client.get("/accounts/2fa/recovery-codes/").content.decode()
    client.post("/accounts/logout/")
    # the password alone no longer signs in: a code is asked for
    response = client.post("/accounts/login/", {"login": "admin@a.example", "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/settings/").status_code == 302
    response = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert response.status_code == 200 and "Incorrect code" in response.content.decode()
    response = client.post("/accounts/2fa/authenticate/", {"code": _totp(secret)})
    assert response.status_code == 302
    assert client.get("/settings/").status_code == 200
    assert "recovery" in codes_page.lower()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"login": "", "password": ""}, "This field is required"),
        ({"login": "nobody@example.com", "password": "whatever-123"}, "not correct"),
        ({"login": "x" * 400, "password": "p"}, "Enter a valid email address"),
    ],
)
def test_sign_in_bad_input(client: Any, db: Any, data: dict[str, str], message: str) -> None:
    response = client.post("/accounts/login/", data)
    assert response.status_code == 200 and message in response.content.decode()


def test_sign_up_can_be_closed(client: Any, db: Any, settings: Any) -> None:
    from boxvault.accounts.models import Account

    settings.BOXVAULT_SIGNUP_OPEN = False
    response = client.post("/accounts/signup/", SIGNUP)
    assert response.status_code == 200 and "Sign Up Closed" in response.content.decode()
    assert not Account.objects.exists()


def test_sign_up_with_a_too_long_derived_name_is_refused_and_strands_nothing(client: Any, db: Any) -> None:
    # Each name within its field's limit, but "first last" is longer than an account name may be:
    # the form says so and nothing is created, so the same address can sign up again right away.
    from boxvault.accounts.models import Account, User

    long = {**SIGNUP, "first_name": "F" * 100, "last_name": "L" * 30}
    response = client.post("/accounts/signup/", long)
    assert response.status_code == 200
    assert "First and last name together" in response.content.decode()
    assert not User.objects.exists() and not Account.objects.exists()
    response = client.post("/accounts/signup/", SIGNUP)
    assert response.status_code == 302
    assert User.objects.get().email == "grace@example.com" and Account.objects.get().name == "Grace Hopper"


def test_sign_up_failing_after_the_user_row_rolls_the_user_back(
    client: Any, db: Any, monkeypatch: Any
) -> None:
    # Whatever fails while the account is created, the user row must not stay behind on its own.
    from boxvault.accounts import services
    from boxvault.accounts.models import User

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("account creation failed")

    monkeypatch.setattr(services, "create_account", broken)
    client.raise_request_exception = False
    response = client.post("/accounts/signup/", SIGNUP)
    assert response.status_code == 500
    assert not User.objects.exists()


def test_password_reset_clears_the_lock_out(client: Any, admin: Any) -> None:
    for _ in range(5):
        client.post("/accounts/login/", {"login": "admin@a.example", "password": "wrong-password-1"})
    assert (
        client.post("/accounts/login/", {"login": "admin@a.example", "password": PASSWORD}).status_code == 429
    )
    client.post("/accounts/password/reset/", {"email": "admin@a.example"})
    response = client.get(_link(mail.outbox[-1]), follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else _link(mail.outbox[-1])
    new = "Another-Strong-Pass-77"
    assert client.post(form_url, {"password1": new, "password2": new}).status_code == 302
    assert client.post("/accounts/login/", {"login": "admin@a.example", "password": new}).status_code == 302
