"""Exceptions, auto-discovery and recovery notifications from real runs against the Box sandbox, read back
from a real SMTP server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from notifications.fixtures import parts


def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Box calls retried twice, quickly, so injected faults end a run in seconds rather than minutes."""
    from boxvault.backups import runner
    from boxvault.box.connect import Limits

    monkeypatch.setattr(
        runner, "run_limits", lambda: Limits(per_user_rps=0.0, max_attempts=2, retry_base_interval=0.05)
    )


def _run_backups(access: Any, task: Any, ids: list[str]) -> list[str]:
    from boxvault.backups import services
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    services.user_action(access, task, "backup_now", ids)
    pending = Job.objects.filter(task_id=task.pk, status="pending").order_by("id")
    return [str(jobs.run(job.pk)) for job in pending]


@pytest.mark.django_db(transaction=True)
def test_failed_users_batched_lost_connection_and_discovery(
    smtp: Any, admin: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.sandbox import running_sandbox

    # A sandbox of its own: this test deletes and deactivates Box users.
    with running_sandbox(tmp_path, users=3, files_per_user=5, seed=11) as sandbox:
        _scenario(smtp, admin, sandbox, monkeypatch)


def _scenario(smtp: Any, admin: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.backups import services, vault
    from boxvault.backups.models import Task, TaskUser
    from boxvault.core import clock
    from boxvault.notifications import services as notify
    from boxvault.notifications.dispatch import send_due
    from boxvault.notifications.models import Event

    _fast_retries(monkeypatch)
    access = for_user(admin.user)
    notify.add_recipient(access, email="oncall@example.org", display_name="On-call", types=["exceptions"])
    notify.add_recipient(access, email="it@example.org", types=["auto_discovery"])
    task = services.create_ccg_task(
        access,
        name="Faulty Box",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        enterprise_id=sandbox.enterprise_id,
        api_url=sandbox.url,
    )
    # Discovery when the task connected: one message listing every new user, not activated.
    found = smtp.take()
    assert [str(m["To"]) for m in found] == ["it@example.org"]
    text, html, _ = parts(found[0])
    logins = list(TaskUser.objects.filter(task=task).values_list("login", flat=True))
    assert len(logins) >= 3 and all(login in text for login in logins)
    assert "not activated" in text and "Faulty Box" in html

    ids = [u.box_user_id for u in TaskUser.objects.filter(task=task)]
    services.user_action(access, task, "activate", ids)
    try:
        # Every folder listing answers 500: each user's backup fails.
        sandbox.set_faults(error_rates={"500": 1.0}, paths=["/2.0/folders"], seed=1)
        outcomes = _run_backups(access, task, ids)
    finally:
        sandbox.clear_faults()
    assert outcomes and set(outcomes) <= {"failed", "partially_succeeded"}, outcomes
    assert Event.objects.filter(type="exceptions").count() == len(ids)
    assert smtp.take() == []  # batched: nothing yet
    # While the failures keep coming (last one just now) the batch waits ...
    assert send_due(clock.now())["queued"]["exceptions"] == 0
    # ... and once it settled, one message names every failed user.
    later = clock.now() + timedelta(minutes=3)
    with clock.frozen_at(later):
        assert send_due(later)["queued"]["exceptions"] == 1
        assert send_due(later)["queued"]["exceptions"] == 0
    mails = smtp.take()
    assert len(mails) == 1 and str(mails[0]["To"]) == "On-call <oncall@example.org>"
    text, html, _ = parts(mails[0])
    assert f"{len(ids)} backups failed or partly failed" in mails[0]["Subject"]
    for login in logins:
        assert f"Faulty Box / {login}:" in text and login in html
    assert "http://portal.test/jobs/" in text and "http://portal.test/settings/notifications/" in text

    # A lost connection (the app's secret revoked in Box): told once, with the way to authorize again.
    creds = vault.get_json(task, "credentials")
    vault.put_json(task, "credentials", {**creds, "client_secret": "revoked"})
    Task.objects.filter(pk=task.pk).update(sealed_credentials=task.sealed_credentials)
    outcomes = _run_backups(access, task, ids[:2])
    assert outcomes == ["failed", "failed"]
    # The scheduler's discovery (services.discover_due) is what finds the connection lost.
    with pytest.raises(Exception):
        services.discover_users(task, limits=None)
    task.refresh_from_db()
    assert task.status == "disconnected"
    later = clock.now() + timedelta(minutes=3)
    with clock.frozen_at(later):
        send_due(later)
    mails = smtp.take()
    assert len(mails) == 1
    assert "2 backups failed or partly failed; 1 task lost the Box connection" in mails[0]["Subject"]
    text = parts(mails[0])[0]
    assert "Task Faulty Box lost its Box connection" in text and f"/tasks/{task.pk}/" in text

    # Users added, deactivated and deleted in Box: one discovery message with all three.
    Task.objects.filter(pk=task.pk).update(sealed_credentials=vault_restore(task, creds), status="connected")
    task.refresh_from_db()
    sandbox.add_user("newbie@sandbox.example", "New Bie")
    members = [u for u in sandbox.users if u["id"] in ids]
    sandbox.deactivate_user(members[0]["id"])
    sandbox.delete_user(members[1]["id"])
    services.discover_users(task)
    mails = smtp.take()
    assert [str(m["To"]) for m in mails] == ["it@example.org"]
    text = parts(mails[0])[0]
    assert "New users (1):" in text and "newbie@sandbox.example" in text
    assert "Deactivated in Box (1):" in text and members[0]["login"] in text
    assert "Deleted from Box (1):" in text and "archived; its backups are kept for 90 days" in text


def vault_restore(task: Any, creds: dict[str, Any]) -> str:
    from boxvault.backups import vault

    vault.put_json(task, "credentials", creds)
    return str(task.sealed_credentials)
