"""Settings > Notifications page: forms show their errors (400, never a 500) and the gate holds."""

from __future__ import annotations

from typing import Any

import pytest

from portal.fixtures import login

PAGE = "/settings/notifications/"


@pytest.mark.django_db
def test_page_add_edit_remove(client: Any, admin: Any) -> None:
    from boxvault.notifications.models import Recipient

    login(client, admin.user)
    page = client.get(PAGE)
    assert page.status_code == 200 and b"Add a recipient" in page.content and b"Notifications" in page.content
    bad = client.post(PAGE, {"form": "recipient", "email": "nope", "types": ["summary"]})
    assert bad.status_code == 400 and b"not a valid e-mail address" in bad.content
    none = client.post(PAGE, {"form": "recipient", "email": "ops@example.org"})
    assert none.status_code == 400 and b"at least one notification type" in none.content
    ok = client.post(
        PAGE, {"form": "recipient", "email": "ops@example.org", "display_name": "Ops", "types": ["summary"]}
    )
    assert ok.status_code == 302
    row = Recipient.objects.get(account=admin.account)
    dup = client.post(PAGE, {"form": "recipient", "email": "OPS@example.org", "types": ["recovery"]})
    assert dup.status_code == 400 and b"already a recipient" in dup.content
    edit = client.post(
        f"{PAGE}recipients/{row.pk}/", {"email": "ops@example.org", "types": ["recovery", "smart_alerts"]}
    )
    assert edit.status_code == 302
    row.refresh_from_db()
    assert row.types == ["recovery", "smart_alerts"] and row.display_name == ""
    assert b"Smart alerts" in client.get(PAGE).content
    assert client.post(f"{PAGE}recipients/{row.pk}/remove/").status_code == 302
    assert not Recipient.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db
def test_settings_form_saves_and_refuses_bad_hour(client: Any, admin: Any) -> None:
    from boxvault.notifications.services import settings_for

    login(client, admin.user)
    form = {
        "form": "settings",
        "report_format": "failures",
        "delivery": "link",
        "frequency": "monthly",
        "hour_utc": "30",
        "smart_min_files": "20",
        "smart_min_share": "0.2",
        "smart_factor": "5",
    }
    bad = client.post(PAGE, form)
    assert bad.status_code == 400 and b"between 0 and 23" in bad.content
    assert settings_for(admin.account).frequency == "daily"
    assert client.post(PAGE, {**form, "hour_utc": "6"}).status_code == 302
    saved = settings_for(admin.account)
    assert (saved.frequency, saved.hour_utc, saved.delivery) == ("monthly", 6, "link")


@pytest.mark.django_db
def test_page_gate(client: Any, admin: Any, restricted: Any, outsider: Any, notifier: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.notifications import services
    from boxvault.notifications.models import Recipient

    row = services.add_recipient(for_user(admin.user), email="a@example.org", types=["summary"])
    assert client.get(PAGE).status_code == 302  # anonymous: to the sign-in page
    login(client, restricted.user)
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}recipients/{row.pk}/remove/").status_code == 403
    login(client, outsider.user)
    assert client.get(PAGE).status_code == 200
    assert b"a@example.org" not in client.get(PAGE).content
    assert client.get(f"{PAGE}recipients/{row.pk}/").status_code == 404
    assert client.post(f"{PAGE}recipients/{row.pk}/remove/").status_code == 404
    assert Recipient.objects.filter(pk=row.pk).exists()
    login(client, notifier.user)
    assert client.get(f"{PAGE}recipients/{row.pk}/").status_code == 200
    nav = client.get(PAGE).content
    assert b'href="/settings/notifications/"' in nav
