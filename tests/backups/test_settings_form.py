"""The task settings form's numbers: limits the browser knows and messages people can read."""

from __future__ import annotations

from typing import Any

import pytest

from portal.fixtures import login

BODY = {"name": "Renamed", "frequency": "weekly", "hour_utc": "5", "archived_retention_days": "30"}


def test_the_browser_knows_the_limits(client: Any, admin: Any, make_task: Any) -> None:
    task = make_task(users=0)
    login(client, admin.user)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    field = next(line for line in page.split("<input") if 'name="archived_retention_days"' in line)
    assert 'min="1"' in field and 'max="3650"' in field


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "greater than or equal to 1"),
        ("99999999999999999999999", "less than or equal to 3650"),
        ("-5", "greater than or equal to 1"),
    ],
)
def test_bad_retention_is_a_readable_message(
    client: Any, admin: Any, make_task: Any, value: str, message: str
) -> None:
    from boxvault.backups.models import Task

    task = make_task(users=0)
    login(client, admin.user)
    response = client.post(f"/tasks/{task.pk}/", {**BODY, "archived_retention_days": value})
    text = response.content.decode()
    assert response.status_code == 200 and message in text
    assert "9223372036854775807" not in text and "archived_retention_days" not in text.split("<form")[0]
    assert Task.objects.get(pk=task.pk).archived_retention_days == 90


def test_tenant_pages_show_the_location_label_not_the_server_path(
    client: Any, admin: Any, make_task: Any
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.backups.services import user_action

    task = make_task(users=1)
    assert task.repository  # a filesystem path on this server
    user_action(for_user(admin.user), task, "activate", ["100"])
    user_action(for_user(admin.user), task, "backup_now", ["100"])
    login(client, admin.user)
    for path in (f"/tasks/{task.pk}/", "/jobs/"):
        html = client.get(path).content.decode()
        assert task.repository not in html, path
        assert task.location_label in html, path


def test_deleted_users_show_as_pending_deletion_in_recovery_with_an_undo(
    client: Any, admin: Any, make_task: Any
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.backups.models import TaskUser
    from boxvault.backups.services import user_action

    task = make_task(users=1)
    access = for_user(admin.user)
    user_action(access, task, "activate", ["100"])
    from django.utils import timezone

    # backed up once (recovery lists backed-up users), then deleted
    TaskUser.objects.filter(task=task).update(first_backup_at=timezone.now(), last_backup_at=timezone.now())
    user_action(access, task, "delete", ["100"])
    login(client, admin.user)
    html = client.get(f"/recovery/tasks/{task.pk}/").content.decode()
    assert "Pending deletion" in html and 'value="undo_delete"' in html
    response = client.post(f"/tasks/{task.pk}/users/", {"action": "undo_delete", "box_user_id": ["100"]})
    assert response.status_code == 302
    row = TaskUser.objects.get(task=task, box_user_id="100")
    assert row.deletion_due_at is None and row.next_run_at is not None  # scheduled again
    assert "Pending deletion" not in client.get(f"/recovery/tasks/{task.pk}/").content.decode()
    # nothing pending any more: undoing again is a clear message, not a silent success
    again = client.post(
        f"/tasks/{task.pk}/users/", {"action": "undo_delete", "box_user_id": ["100"]}, follow=True
    )
    assert "Unknown Box user" in again.content.decode()
