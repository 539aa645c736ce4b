"""Every write of the backups and recovery apps leaves its security-audit row, written in the change's own
transaction: task created, settings changed, users activated/paused/deleted, Backup Now, retention, deletion
requested and canceled, restore and export."""

from __future__ import annotations

from typing import Any

import pytest

from recovery.fixtures import back_up


def _post(client: Any, url: str, body: Any) -> Any:
    return client.post(url, body, content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_every_backups_and_recovery_write_is_audited(client: Any, admin: Any, sandbox: Any) -> None:
    from django.contrib.auth import get_user_model

    from boxvault.security.models import AuditEvent

    Activity = AuditEvent.Activity
    backed = back_up(client, admin, sandbox)  # create (CCG), activate, Backup Now
    task, other, ref = backed.task.pk, backed.other["box_user_id"], backed.snapshot
    restore = {"snapshot": ref, "paths": [backed.proj], "mode": "bypass"}
    assert _post(client, "/api/v1/restores/", restore).status_code == 201
    assert _post(client, "/api/v1/exports/", {"snapshot": ref, "target": {"kind": "zip"}}).status_code == 201
    changed = client.patch(f"/api/v1/tasks/{task}/", {"hour_utc": 5}, content_type="application/json")
    assert changed.status_code == 200
    for action in ("activate", "pause", "delete"):
        response = _post(
            client, f"/api/v1/tasks/{task}/users/actions/", {"action": action, "box_user_ids": [other]}
        )
        assert response.status_code == 200, response.content
    get_user_model().objects.filter(pk=admin.user.pk).update(is_staff=True)
    kept = client.put(
        f"/api/v1/tasks/{task}/retention/",
        {"retention": "days", "value": 30},
        content_type="application/json",
    )
    assert kept.status_code == 200, kept.content
    from boxvault.accounts.access import for_user
    from boxvault.backups import services
    from boxvault.backups.models import Task

    row = Task.objects.get(pk=task)
    services.request_deletion(for_user(admin.user), row)
    services.cancel_deletion(for_user(admin.user), row)

    rows = AuditEvent.objects.filter(account=admin.account, service="Box")
    by_activity: dict[str, list[str]] = {}
    for event in rows:
        assert event.task == backed.task.name and event.performed_by == admin.user.email
        by_activity.setdefault(event.activity, []).append(event.description)
    assert len(by_activity[Activity.TASK_CREATED]) == 1
    assert any(backed.user["login"] in d for d in by_activity[Activity.BACKUP_NOW])
    assert any("Activated" in d for d in by_activity[Activity.TASK_USERS])
    assert any(d.startswith("Paused") for d in by_activity[Activity.TASK_USERS])
    assert any(d.startswith("Deletion requested") for d in by_activity[Activity.TASK_USERS])
    assert any("hour_utc" in d for d in by_activity[Activity.TASK_CHANGED])
    assert any("30 days" in d for d in by_activity[Activity.TASK_CHANGED])
    assert [d.split(" ")[-1] for d in by_activity[Activity.TASK_DELETION]] == ["canceled", "grace)"]
    assert len(by_activity[Activity.RESTORE]) == 1 and ref in by_activity[Activity.RESTORE][0]
    assert len(by_activity[Activity.EXPORT]) == 1 and "zip" in by_activity[Activity.EXPORT][0]


@pytest.mark.django_db(transaction=True)
def test_a_refused_write_leaves_no_audit_row(client: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.security.models import AuditEvent

    backed = back_up(client, admin, sandbox)
    before = AuditEvent.objects.count()
    bad = client.patch(f"/api/v1/tasks/{backed.task.pk}/", {"hour_utc": 99}, content_type="application/json")
    assert bad.status_code == 400
    refused = _post(client, "/api/v1/restores/", {"snapshot": backed.snapshot, "paths": [], "mode": "shred"})
    assert refused.status_code == 400
    assert AuditEvent.objects.count() == before
