"""Settings > Notifications through the API: validation answers 400 with a message, every change is audited,
and the gate answers 403 without the operation and 404 for another tenant's recipient."""

from __future__ import annotations

from typing import Any

import pytest

from notifications.fixtures import call
from portal.fixtures import login

SETTINGS = "/api/v1/notifications/settings/"
RECIPIENTS = "/api/v1/notifications/recipients/"


def _audits(account: Any) -> list[str]:
    from boxvault.security.models import AuditEvent

    return list(
        AuditEvent.objects.filter(account=account, service="Notifications")
        .order_by("id")
        .values_list("description", flat=True)
    )


@pytest.mark.django_db
def test_settings_get_put_and_audit(client: Any, admin: Any) -> None:
    login(client, admin.user)
    got = call(client, "get", SETTINGS).json()
    assert (
        got["report_format"] == "overview" and got["frequency"] == "daily" and got["failures_only"] is False
    )
    body = {"report_format": "failures", "delivery": "link", "frequency": "weekly", "hour_utc": 5}
    put = call(client, "put", SETTINGS, {**got, **body, "failures_only": True})
    assert put.status_code == 200, put.content
    assert put.json()["frequency"] == "weekly" and put.json()["hour_utc"] == 5 and put.json()["failures_only"]
    audits = _audits(admin.account)
    assert len(audits) == 1 and "frequency = weekly" in audits[0] and "delivery = link" in audits[0]
    # the same values again change nothing and write no audit row
    assert call(client, "put", SETTINGS, body).status_code == 200
    assert len(_audits(admin.account)) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"frequency": "hourly"}, "frequency must be one of"),
        ({"hour_utc": 24}, "between 0 and 23"),
        ({"hour_utc": "7"}, "whole number"),
        ({"failures_only": "yes"}, "true or false"),
        ({"report_format": None}, "report_format must be one of"),
        ({"smart_min_share": 0}, "above 0"),
        ({"colour": "blue"}, "Unknown setting"),
    ],
)
def test_bad_settings_are_400s(client: Any, admin: Any, body: dict[str, Any], words: str) -> None:
    login(client, admin.user)
    response = call(client, "put", SETTINGS, body)
    assert response.status_code == 400, response.content
    assert words in str(response.json())
    assert _audits(admin.account) == []


@pytest.mark.django_db
def test_non_object_body_is_400(client: Any, admin: Any) -> None:
    login(client, admin.user)
    assert call(client, "put", SETTINGS, [1, 2]).status_code == 400
    assert call(client, "post", RECIPIENTS, "x").status_code == 400


@pytest.mark.django_db
def test_recipients_add_edit_remove_audited(client: Any, admin: Any) -> None:
    login(client, admin.user)
    created = call(
        client,
        "post",
        RECIPIENTS,
        {"email": "Ops@Example.org", "display_name": " Ops  team ", "types": ["exceptions", "summary"]},
    )
    assert created.status_code == 201, created.content
    row = created.json()
    assert row["email"] == "ops@example.org" and row["display_name"] == "Ops team"
    assert row["types"] == ["summary", "exceptions"]  # canonical order
    listed = call(client, "get", RECIPIENTS).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == row["id"]
    put = call(
        client, "put", f"{RECIPIENTS}{row['id']}/", {"email": "ops@example.org", "types": ["recovery"]}
    )
    assert put.status_code == 200 and put.json()["types"] == ["recovery"]
    assert call(client, "delete", f"{RECIPIENTS}{row['id']}/").status_code == 204
    assert call(client, "get", RECIPIENTS).json()["count"] == 0
    audits = _audits(admin.account)
    assert [a.split(":")[0] for a in audits] == [
        "Notification recipient added",
        "Notification recipient changed",
        "Notification recipient removed",
    ]
    assert "ops@example.org" in audits[0] and "Recovery notification" in audits[1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"email": "not-an-address", "types": ["summary"]}, "not a valid e-mail address"),
        ({"email": "", "types": ["summary"]}, "Enter an e-mail address"),
        ({"types": ["summary"]}, "Enter an e-mail address"),
        ({"email": "a@example.org", "types": []}, "at least one notification type"),
        ({"email": "a@example.org"}, "at least one notification type"),
        ({"email": "a@example.org", "types": ["summary", "sms"]}, "Unknown notification type"),
        ({"email": "a@example.org", "types": "summary"}, "types must be a list"),
        ({"email": "a@example.org", "types": ["summary"], "display_name": 5}, "display_name must be text"),
        ({"email": "a@example.org", "types": ["summary"], "display_name": "x" * 121}, "at most 120"),
    ],
)
def test_bad_recipients_are_400s(client: Any, admin: Any, body: dict[str, Any], words: str) -> None:
    login(client, admin.user)
    response = call(client, "post", RECIPIENTS, body)
    assert response.status_code == 400, response.content
    assert words in str(response.json())
    assert call(client, "get", RECIPIENTS).json()["count"] == 0


@pytest.mark.django_db
def test_duplicate_recipient_is_400_on_add_and_edit(client: Any, admin: Any) -> None:
    login(client, admin.user)
    first = call(client, "post", RECIPIENTS, {"email": "a@example.org", "types": ["summary"]}).json()
    again = call(client, "post", RECIPIENTS, {"email": "A@EXAMPLE.org", "types": ["recovery"]})
    assert again.status_code == 400 and "already a recipient" in str(again.json())
    other = call(client, "post", RECIPIENTS, {"email": "b@example.org", "types": ["summary"]}).json()
    clash = call(
        client, "put", f"{RECIPIENTS}{other['id']}/", {"email": "a@example.org", "types": ["summary"]}
    )
    assert clash.status_code == 400 and "already a recipient" in str(clash.json())
    assert first["id"] != other["id"]


@pytest.mark.django_db
def test_thousand_recipients_cap(client: Any, admin: Any) -> None:
    from boxvault.core import clock
    from boxvault.notifications.models import MAX_RECIPIENTS, Recipient

    now = clock.now()
    Recipient.objects.bulk_create(
        Recipient(account=admin.account, email=f"r{i}@example.org", types=["summary"], created_at=now)
        for i in range(MAX_RECIPIENTS - 1)
    )
    login(client, admin.user)
    assert (
        call(client, "post", RECIPIENTS, {"email": "last@example.org", "types": ["summary"]}).status_code
        == 201
    )
    over = call(client, "post", RECIPIENTS, {"email": "over@example.org", "types": ["summary"]})
    assert over.status_code == 400 and "at most 1,000 recipients" in str(over.json())
    assert Recipient.objects.filter(account=admin.account).count() == MAX_RECIPIENTS


@pytest.mark.django_db
def test_member_without_operation_gets_403(client: Any, admin: Any, restricted: Any) -> None:
    login(client, admin.user)
    row = call(client, "post", RECIPIENTS, {"email": "a@example.org", "types": ["summary"]}).json()
    login(client, restricted.user)
    for method, url, body in [
        ("get", SETTINGS, None),
        ("put", SETTINGS, {"hour_utc": 3}),
        ("get", RECIPIENTS, None),
        ("post", RECIPIENTS, {"email": "b@example.org", "types": ["summary"]}),
        ("put", f"{RECIPIENTS}{row['id']}/", {"email": "c@example.org", "types": ["summary"]}),
        ("delete", f"{RECIPIENTS}{row['id']}/", None),
    ]:
        response = call(client, method, url, body)
        assert response.status_code == 403, (method, url, response.status_code)
        assert "Manage notifications" in str(response.json())


@pytest.mark.django_db
def test_member_with_operation_may_manage(client: Any, notifier: Any) -> None:
    login(client, notifier.user)
    assert call(client, "put", SETTINGS, {"hour_utc": 3}).status_code == 200
    assert (
        call(client, "post", RECIPIENTS, {"email": "b@example.org", "types": ["summary"]}).status_code == 201
    )
    assert "nora@a.example" in str(
        __import__("boxvault.security.models", fromlist=["AuditEvent"])
        .AuditEvent.objects.filter(service="Notifications")
        .values_list("performed_by", flat=True)
        .distinct()
        .get()
    )


@pytest.mark.django_db
def test_outsider_sees_nothing_and_gets_404(client: Any, admin: Any, outsider: Any) -> None:
    login(client, admin.user)
    row = call(client, "post", RECIPIENTS, {"email": "a@example.org", "types": ["summary"]}).json()
    call(client, "put", SETTINGS, {"hour_utc": 9})
    login(client, outsider.user)
    assert call(client, "get", RECIPIENTS).json()["count"] == 0
    assert call(client, "get", SETTINGS).json()["hour_utc"] == 7  # their own account's defaults
    for method in ("get", "put", "delete"):
        body = {"email": "x@example.org", "types": ["summary"]} if method == "put" else None
        assert call(client, method, f"{RECIPIENTS}{row['id']}/", body).status_code == 404
    assert call(client, "get", f"{RECIPIENTS}999999/").status_code == 404


@pytest.mark.django_db
def test_anonymous_and_token(client: Any, admin: Any) -> None:
    from boxvault.api.tokens import create_token

    assert call(client, "get", SETTINGS).status_code in (401, 403)
    _, key = create_token(admin.user, "script")
    response = client.get(SETTINGS, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and response.json()["frequency"] == "daily"
