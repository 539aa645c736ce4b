"""Users discovered, archived and purged; tasks deleted after their grace period; account purge; settings."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from support import require_binary


def _restic_snapshots(repo: str, password: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["restic", "-r", repo, "--no-cache", "snapshots", "--json"],
        env={**os.environ, "RESTIC_PASSWORD": password}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return list(json.loads(out.stdout))


@pytest.mark.django_db(transaction=True)
def test_discovery_auto_activates_archives_and_purges_users(admin: Any, tmp_path: Path) -> None:
    require_binary("restic")
    from boxvault.accounts.access import for_user
    from boxvault.backups import repository, services
    from boxvault.backups.models import TaskUser
    from boxvault.core import clock
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from support.sandbox import running_sandbox

    access = for_user(admin.user)
    with running_sandbox(tmp_path, users=3, files_per_user=6, seed=11) as sandbox:
        task = services.create_ccg_task(
            access,
            name="Discovery",
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            enterprise_id=sandbox.enterprise_id,
            api_url=sandbox.url,
        )
        assert set(TaskUser.objects.filter(task=task).values_list("status", flat=True)) == {"not_active"}
        services.update_settings(access, task, auto_activate=True, archived_retention_days=10)
        newcomer = sandbox.add_user("nina.new@sandbox.example", "Nina New")
        assert services.discover_users(task)["new"] == 1
        row = TaskUser.objects.get(task=task, box_user_id=str(newcomer["id"]))
        assert row.status == "scheduled" and row.next_run_at is not None

        leaver, stayer = sandbox.users[0]["id"], sandbox.users[1]["id"]
        services.user_action(access, task, "activate", [leaver, stayer])
        services.user_action(access, task, "backup_now", [leaver, stayer])
        for job in Job.objects.filter(task_id=task.pk).order_by("id"):
            assert jobs.run(job.pk) == "succeeded"
        password = repository.password(task)
        assert len(_restic_snapshots(task.repository, password)) == 2

        sandbox.delete_user(leaver)
        assert services.discover_users(task)["archived"] == 1
        gone = TaskUser.objects.get(task=task, box_user_id=leaver)
        assert gone.status == "archived" and gone.archived_at is not None
        with pytest.raises(services.ServiceError):
            services.user_action(access, task, "activate", [leaver])

        # kept for the archived retention, then forgotten and pruned
        services.purge_due(clock.now() + timedelta(days=9))
        assert TaskUser.objects.filter(pk=gone.pk).exists()
        assert not Job.objects.filter(task_id=task.pk, kind="purge").exists()
        services.purge_due(clock.now() + timedelta(days=11))
        services.purge_due(clock.now() + timedelta(days=11))  # the hourly pass again: still one job
        purge = Job.objects.get(task_id=task.pk, kind="purge")
        assert jobs.run(purge.pk) == "succeeded"
        purge.refresh_from_db()
        assert purge.result["snapshots_removed"] == 1 and purge.result["bytes_removed"] > 0
        assert not TaskUser.objects.filter(pk=gone.pk).exists()
        left = _restic_snapshots(task.repository, password)
        assert [t for s in left for t in s["tags"] if t.startswith("user:")] == [f"user:{stayer}"]
        check = subprocess.run(
            ["restic", "-r", task.repository, "--no-cache", "check", "--read-data"],
            env={**os.environ, "RESTIC_PASSWORD": password}, capture_output=True, text=True,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr

        # a deleted user (7-day grace) goes the same way
        services.user_action(access, task, "delete", [stayer])
        assert TaskUser.objects.get(task=task, box_user_id=stayer).deletion_due_at is not None
        services.purge_due(clock.now() + timedelta(days=8))
        for job in Job.objects.filter(task_id=task.pk, kind="purge", status="pending"):
            assert jobs.run(job.pk) == "succeeded"
        assert not TaskUser.objects.filter(task=task, box_user_id=stayer).exists()
        assert _restic_snapshots(task.repository, password) == []


@pytest.mark.django_db
def test_task_deletion_waits_out_the_grace_period_and_purges_only_that_task(
    admin: Any, make_task: Any
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.backups import repository, services
    from boxvault.backups.models import Task, TaskUser
    from boxvault.core import clock

    access = for_user(admin.user)
    doomed, kept = make_task(name="Doomed"), make_task(name="Kept")
    for task in (doomed, kept):
        repository.open_repository(task)
        assert Path(task.repository, "config").is_file()
    services.request_deletion(access, doomed)
    services.cancel_deletion(access, doomed)
    assert Task.objects.get(pk=doomed.pk).deletion_due_at is None
    services.request_deletion(access, doomed)
    assert services.purge_due(clock.now() + timedelta(days=6)) == []
    assert services.purge_due(clock.now() + timedelta(days=8)) == [doomed.pk]
    assert not Path(doomed.repository).exists()
    assert not TaskUser.objects.filter(task_id=doomed.pk).exists()
    assert Path(kept.repository, "config").is_file() and TaskUser.objects.filter(task=kept).count() == 3


@pytest.mark.django_db
def test_account_purge_removes_its_repositories(admin: Any, outsider: Any, make_task: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import purge_due_accounts, request_removal
    from boxvault.backups import repository
    from boxvault.core import clock

    ours, theirs = make_task(), make_task(account_admin=outsider, name="Other tenant")
    for task in (ours, theirs):
        repository.open_repository(task)
    request_removal(for_user(admin.user, allow_pending_removal=True))
    purge_due_accounts(clock.now() + timedelta(days=30))
    assert not Path(ours.repository).exists()
    assert Path(theirs.repository, "config").is_file()


@pytest.mark.django_db
def test_settings_page_saves_and_reschedules(client: Any, admin: Any, make_task: Any) -> None:
    from boxvault.backups.models import Task, TaskUser
    from boxvault.backups.schedule import next_slot
    from boxvault.core import clock
    from portal.fixtures import login

    task = make_task()
    TaskUser.objects.filter(task=task).update(status="active", next_run_at=clock.now())
    login(client, admin.user)
    page = client.get(f"/tasks/{task.pk}/")
    assert b"Retention period" in page.content and b"Unlimited" in page.content
    r = client.post(
        f"/tasks/{task.pk}/",
        {"name": "Weekly Box", "frequency": "weekly", "hour_utc": "22", "archived_retention_days": "45"},
    )
    assert r.status_code == 302
    task = Task.objects.get(pk=task.pk)
    assert (task.name, task.frequency, task.hour_utc, task.archived_retention_days) == (
        "Weekly Box",
        "weekly",
        22,
        45,
    )
    assert not task.index_for_search and not task.auto_activate  # unchecked boxes
    for u in TaskUser.objects.filter(task=task):
        assert (
            u.next_run_at is not None
            and u.next_run_at.weekday() == next_slot("weekly", 22, clock.now()).weekday()
        )
        assert u.next_run_at.hour == 22
    bad = client.post(f"/tasks/{task.pk}/", {"name": "", "frequency": "hourly", "hour_utc": "25"})
    assert bad.status_code == 200 and b"errorlist" in bad.content


@pytest.mark.django_db
def test_a_user_backed_up_by_another_task_is_marked_so(admin: Any, sandbox: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.backups import services
    from boxvault.backups.models import TaskUser

    access = for_user(admin.user)

    def new(name: str) -> Any:
        return services.create_ccg_task(
            access,
            name=name,
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            enterprise_id=sandbox.enterprise_id,
            api_url=sandbox.url,
        )

    first = new("First")
    taken = sandbox.users[1]["id"]
    services.user_action(access, first, "activate", [taken])
    second = new("Second")
    statuses = dict(TaskUser.objects.filter(task=second).values_list("box_user_id", "status"))
    assert statuses[taken] == "other_task"
    assert {s for uid, s in statuses.items() if uid != taken} == {"not_active"}
    r = services.user_action(access, second, "activate", [taken])  # an administrator may still move them
    assert r == [] and TaskUser.objects.get(task=second, box_user_id=taken).status == "scheduled"
