"""Account removal on a fake clock: grace period, reactivation, purge of that tenant only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from boxvault.core import clock
from portal.fixtures import login

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _remove(client: Any) -> None:
    # step 1: the approval checkbox is required
    response = client.post("/settings/remove/", {})
    assert "Tick the box" in response.content.decode()
    # step 2: "Are you sure?"
    response = client.post("/settings/remove/", {"approve": "on"})
    assert b"Are you sure?" in response.content
    # step 3: confirmed
    assert client.post("/settings/remove/", {"approve": "on", "confirm": "yes"}).status_code == 302


def test_reactivate_within_grace_period(client: Any, admin: Any, restricted: Any) -> None:
    from boxvault.security.models import AuditEvent

    login(client, admin.user)
    with clock.frozen_at(T0):
        _remove(client)
    admin.account.refresh_from_db()
    assert admin.account.removal_due_at == T0 + timedelta(days=7)
    # during the grace period the portal leads administrators to the reactivation page ...
    assert client.get("/settings/")["Location"] == "/settings/remove/"
    assert b"scheduled for removal" in client.get("/settings/remove/").content
    # ... other members and the API are refused
    login(client, restricted.user)
    assert client.get("/settings/").status_code == 403
    assert client.get("/api/v1/account/").status_code == 403
    login(client, admin.user)
    with clock.frozen_at(T0 + timedelta(days=6, hours=23)):
        from boxvault.accounts.services import purge_due_accounts

        assert purge_due_accounts() == []
        assert client.post("/settings/reactivate/").status_code == 302
    admin.account.refresh_from_db()
    assert not admin.account.pending_removal
    assert client.get("/settings/").status_code == 200
    activities = set(AuditEvent.objects.filter(account=admin.account).values_list("activity", flat=True))
    assert {"account_removal", "account_reactivated"} <= activities


def test_purge_after_grace_deletes_that_tenant_only(
    client: Any, admin: Any, restricted: Any, outsider: Any
) -> None:
    from boxvault.accounts.models import Account, Member, User
    from boxvault.accounts.tasks import purge_removed_accounts
    from boxvault.api.models import ApiToken
    from boxvault.api.tokens import create_token
    from boxvault.billing.models import Trial
    from boxvault.security.models import AuditEvent

    create_token(admin.user, "script")
    create_token(outsider.user, "script")
    login(client, admin.user)
    client.post("/accounts/login/", {"login": "rita@a.example", "password": "wrong-password-x"})
    with clock.frozen_at(T0):
        _remove(client)
    other_before = (
        AuditEvent.objects.filter(account=outsider.account).count(),
        Member.objects.filter(account=outsider.account).count(),
    )
    with clock.frozen_at(T0 + timedelta(days=7, minutes=1)):
        assert client.post("/settings/reactivate/").status_code == 302  # too late: refused with a message
        assert purge_removed_accounts.call_local() == [admin.account.pk]
    assert not Account.objects.filter(pk=admin.account.pk).exists()
    assert not User.objects.filter(email__endswith="@a.example").exists()
    assert not AuditEvent.objects.filter(performed_by__endswith="@a.example").exists()
    assert not Trial.objects.filter(account_id=admin.account.pk).exists()
    assert list(ApiToken.objects.values_list("user__email", flat=True)) == ["otto@b.example"]
    # the other tenant is untouched
    assert Account.objects.filter(pk=outsider.account.pk).exists()
    assert (
        AuditEvent.objects.filter(account=outsider.account).count(),
        Member.objects.filter(account=outsider.account).count(),
    ) == other_before
    assert User.objects.filter(email="otto@b.example").exists()


def test_settings_page_names_the_grace_period(client: Any, admin: Any, settings: Any) -> None:
    from portal.fixtures import login

    settings.BOXVAULT_REMOVAL_GRACE_DAYS = 21
    login(client, admin.user)
    page = client.get("/settings/").content.decode()
    assert "after a 21-day grace period" in page and "a -day" not in page
