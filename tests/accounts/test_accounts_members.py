"""User management pages: add (password or invitation), edit, remove; every refusal is a message."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from portal.fixtures import PASSWORD, login


@pytest.fixture
def admin_client(client: Any, admin: Any) -> Any:
    return login(client, admin.user)


def _new(**change: Any) -> dict[str, Any]:
    data = {
        "email": "bob@a.example",
        "first_name": "Bob",
        "last_name": "Builder",
        "role": "custom",
        "operations": ["view_backups", "restore"],
        "services": ["box"],
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    data.update(change)
    return data


def test_add_with_password_then_sign_in(admin_client: Any, admin: Any) -> None:
    from boxvault.accounts.models import Member
    from boxvault.security.models import AuditEvent

    response = admin_client.post("/users/add/", _new())
    assert response.status_code == 302
    bob = Member.objects.get(user__email="bob@a.example")
    assert bob.account == admin.account and bob.operations == ["restore", "view_backups"]
    event = AuditEvent.objects.get(account=admin.account, activity="user_added")
    assert "bob@a.example" in event.description and "Restore" in event.description
    listing = admin_client.get("/users/").content.decode()
    assert "bob@a.example" in listing and "Custom" in listing and "Off" in listing
    admin_client.logout()
    response = admin_client.post("/accounts/login/", {"login": "bob@a.example", "password": PASSWORD})
    assert response.status_code == 302


def test_add_by_invitation(admin_client: Any, admin: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/users/add/", _new(password1="", password2=""))
    assert response.status_code == 302
    invite = [m for m in mail.outbox if m.to == ["bob@a.example"]][-1]
    assert "invited you to Acme" in invite.subject
    path = re.search(r"https?://[^/\s]+(/\S+)", invite.body).group(1)
    admin_client.logout()
    response = admin_client.get(path, follow=True)
    form_url = response.redirect_chain[-1][0]
    new = "Invited-Person-Pass-1"
    assert admin_client.post(form_url, {"password1": new, "password2": new}).status_code == 302
    assert (
        admin_client.post("/accounts/login/", {"login": "bob@a.example", "password": new}).status_code == 302
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"email": ""}, "This field is required"),
        ({"email": "nope"}, "valid email"),
        ({"email": "x" * 250 + "@a.example"}, "at most 254"),
        ({"first_name": "x" * 151}, "at most 150"),
        ({"password2": "Different-Pass-99"}, "do not match"),
        ({"password1": "short", "password2": "short"}, "too short"),
        ({"role": "emperor"}, "Select a valid choice"),
        ({"operations": ["launch_missiles"]}, "Select a valid choice"),
        ({"services": ["dropbox"]}, "Select a valid choice"),
        ({"email": "ADMIN@a.example"}, "is already a user of this account"),
    ],
)
def test_add_bad_input(admin_client: Any, change: dict[str, Any], message: str) -> None:
    response = admin_client.post("/users/add/", _new(**change))
    assert response.status_code == 200
    assert message in response.content.decode()


def test_an_error_is_shown_once(admin_client: Any) -> None:
    page = admin_client.post("/users/add/", _new(email="admin@a.example")).content.decode()
    assert page.count("already a user of this account") == 1


def test_another_tenants_address_is_not_revealed(admin_client: Any, outsider: Any) -> None:
    from boxvault.accounts.models import Member

    page = admin_client.post("/users/add/", _new(email="otto@b.example", password1="", password2=""))
    text = page.content.decode()
    assert page.status_code == 200 and "cannot be added to this account" in text
    assert "already" not in text and "Globex" not in text
    assert Member.objects.get(user__email="otto@b.example").account == outsider.account


def test_another_users_second_address_is_refused_not_a_500(admin: Any, outsider: Any) -> None:
    """An address registered (allauth) to another user, not as their login: a 400 sentence, nothing saved."""
    from allauth.account.models import EmailAddress

    from boxvault.accounts.access import for_user
    from boxvault.accounts.models import User
    from boxvault.accounts.services import add_member
    from boxvault.core.errors import ServiceError

    EmailAddress.objects.create(user=outsider.user, email="second@b.example", verified=True)
    users = User.objects.count()
    with pytest.raises(ServiceError, match="cannot be added to this account"):
        add_member(for_user(admin.user), email="Second@b.example")
    assert User.objects.count() == users


def test_edit_permissions_is_audited(admin_client: Any, admin: Any, restricted: Any) -> None:
    from boxvault.security.models import AuditEvent

    response = admin_client.post(
        f"/users/{restricted.pk}/",
        {"role": "custom", "operations": ["export"], "services": ["box"], "first_name": "Rita"},
    )
    assert response.status_code == 302
    restricted.refresh_from_db()
    assert restricted.operations == ["export"]
    event = AuditEvent.objects.get(account=admin.account, activity="permissions_changed")
    assert "rita@a.example" in event.description and "Export" in event.description


def test_last_administrator_cannot_be_demoted(admin_client: Any, admin: Any) -> None:
    response = admin_client.post(f"/users/{admin.pk}/", {"role": "custom", "operations": []})
    assert response.status_code == 200
    assert "at least one administrator" in response.content.decode()


def test_only_active_administrator_cannot_demote_themselves(admin_client: Any, admin: Any) -> None:
    # The other administrator is an invitation nobody accepted yet: demoting oneself would leave
    # an account nobody can administer (the demoted admin landed on a 403).
    from boxvault.accounts.models import Member

    invited = _new(email="ivy@a.example", role="admin", password1="", password2="")
    assert admin_client.post("/users/add/", invited).status_code == 302
    response = admin_client.post(f"/users/{admin.pk}/", {"role": "custom", "operations": []})
    assert response.status_code == 200
    assert "at least one administrator who can sign in" in response.content.decode()
    assert Member.objects.get(pk=admin.pk).role == "admin"
    # once another administrator can sign in, stepping down is allowed
    assert admin_client.post("/users/add/", _new(email="ada@a.example", role="admin")).status_code == 302
    response = admin_client.post(f"/users/{admin.pk}/", {"role": "custom", "operations": []})
    assert response.status_code == 302 and Member.objects.get(pk=admin.pk).role == "custom"


def test_remove_user(admin_client: Any, admin: Any, restricted: Any) -> None:
    from boxvault.accounts.models import User
    from boxvault.security.models import AuditEvent

    assert admin_client.post(f"/users/{restricted.pk}/remove/").status_code == 302
    assert not User.objects.filter(email="rita@a.example").exists()
    assert AuditEvent.objects.filter(
        account=admin.account, activity="user_removed", description__contains="rita@a.example"
    ).exists()
    # removing oneself is refused with a message
    response = admin_client.post(f"/users/{admin.pk}/remove/", follow=True)
    assert "cannot remove yourself" in response.content.decode()


def test_non_numeric_and_unknown_ids_are_404(admin_client: Any) -> None:
    assert admin_client.get("/users/999999/").status_code == 404
    assert admin_client.get("/users/abc/").status_code == 404


def test_settings_rename_and_bad_input(admin_client: Any, admin: Any) -> None:
    from boxvault.security.models import AuditEvent

    response = admin_client.post("/settings/", {"name": "Acme Europe", "email": "it@a.example"})
    assert response.status_code == 302
    admin.account.refresh_from_db()
    assert admin.account.name == "Acme Europe"
    assert AuditEvent.objects.filter(
        account=admin.account, activity="settings_changed", description__contains="'Acme Europe'"
    ).exists()
    for bad, message in [
        ({"name": ""}, "required"),
        ({"name": "n" * 121}, "at most 120"),
        ({"email": "zzz"}, "valid email"),
    ]:
        response = admin_client.post("/settings/", {"name": "Ok", "email": "it@a.example", **bad})
        assert response.status_code == 200 and message in response.content.decode()
    page = admin_client.get("/settings/").content.decode()
    assert "Local storage (this server)" in page and "day" in page


def test_user_list_shows_two_factor(admin_client: Any, restricted: Any) -> None:
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=restricted.user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    rows = admin_client.get("/users/").content.decode().split("<tbody>")[1].split("<tr>")
    rita = next(r for r in rows if "rita@a.example" in r)
    ada = next(r for r in rows if "admin@a.example" in r)
    assert "<td>On</td>" in rita and "<td>Off</td>" in ada


def test_sign_out_is_audited(admin_client: Any, admin: Any) -> None:
    from boxvault.security.models import AuditEvent

    assert admin_client.post("/accounts/logout/").status_code == 302
    assert AuditEvent.objects.filter(account=admin.account, activity="sign_out").exists()
