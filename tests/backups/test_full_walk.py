"""The scheduled full walk (issue 20): its task setting on the page and the API, and a run through the job
that counts a divergence in the job log and in System Activity (docs/box.md, "Scheduled full walk")."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, cast

import pytest


@pytest.mark.django_db
def test_full_walk_days_on_the_page_and_the_api(client: Any, admin: Any, make_task: Any) -> None:
    from boxvault.backups.models import Task
    from portal.fixtures import login

    task = make_task()
    assert task.full_walk_days == 7  # weekly by default
    login(client, admin.user)
    page = client.get(f"/tasks/{task.pk}/")
    assert b"Full walk of every user" in page.content and b'name="full_walk_days"' in page.content
    form = {"name": "Daily Box", "frequency": "daily", "hour_utc": "1", "archived_retention_days": "90"}
    r = client.post(f"/tasks/{task.pk}/", {**form, "full_walk_days": "3"})
    assert r.status_code == 302
    assert Task.objects.get(pk=task.pk).full_walk_days == 3
    bad = client.post(f"/tasks/{task.pk}/", {**form, "full_walk_days": "0"})
    assert bad.status_code == 200 and b"greater than or equal to 1" in bad.content
    assert Task.objects.get(pk=task.pk).full_walk_days == 3

    url = f"/api/v1/tasks/{task.pk}/"
    got = client.patch(url, {"full_walk_days": 14}, content_type="application/json")
    assert got.status_code == 200 and got.json()["full_walk_days"] == 14
    for wrong in (0, 91, "weekly", True):
        r = client.patch(url, {"full_walk_days": wrong}, content_type="application/json")
        assert r.status_code == 400 and "full_walk_days" in r.content.decode(), (wrong, r.content)
    assert client.get(url).json()["full_walk_days"] == 14


@pytest.mark.django_db
def test_the_service_refuses_a_bad_value(admin: Any, make_task: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.backups import services
    from boxvault.core.errors import ServiceError

    task = make_task()
    with pytest.raises(ServiceError, match="full_walk_days"):
        services.update_settings(for_user(admin.user), task, full_walk_days=0)


@pytest.mark.django_db(transaction=True)
def test_a_due_full_walk_logs_its_divergence_in_the_job_and_the_activity(admin: Any, tmp_path: Path) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.activity.models import ActivityEvent
    from boxvault.backups import services
    from boxvault.backups.models import TaskUser
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from boxvault.sandbox.store import Store
    from support.sandbox import running_sandbox

    access = for_user(admin.user)
    with running_sandbox(tmp_path, users=1, files_per_user=10, seed=13) as sandbox:
        task = services.create_ccg_task(
            access,
            name="Proof",
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            enterprise_id=sandbox.enterprise_id,
            api_url=sandbox.url,
        )
        services.update_settings(access, task, full_walk_days=2)
        box_id = sandbox.users[0]["id"]
        services.user_action(access, task, "activate", [box_id])

        def run() -> Job:
            services.user_action(access, task, "backup_now", [box_id])
            job = Job.objects.filter(task_id=task.pk).order_by("-id")[0]
            assert jobs.run(job.pk) == "succeeded", list(job.log.values_list("message", flat=True))
            return cast(Job, Job.objects.get(pk=job.pk))

        run()  # the first run lists everything: nothing to compare with yet
        assert not ActivityEvent.objects.filter(activity="Full walk check").exists()

        # a change Box's events do not report (a lost event), then the full walk falls due
        store = Store(sandbox.data_dir)
        row = store.one("SELECT id FROM items WHERE type = 'file' AND owner_id = ? ORDER BY id", int(box_id))
        assert row is not None
        store.db.execute("UPDATE items SET name = 'lost-event.txt', name_key = 'lost-event.txt' WHERE id = ?",
                         (row["id"],))  # fmt: skip
        store.close()
        state = sqlite3.connect(services.state_dir(task) / "state.sqlite")
        with state:
            state.execute("UPDATE event_positions SET full_walk_at = full_walk_at - 3 * 86400")
        state.close()

        job = run()
        lines = list(job.log.values_list("message", flat=True))
        assert any("Full walk: 1 item(s) differ" in line for line in lines), lines
        assert any(f"divergent file {row['id']}" in line and "lost-event.txt" in line for line in lines)
        (event,) = ActivityEvent.objects.filter(activity="Full walk check")
        assert event.items_count == 1 and event.task_id == task.pk and event.account_id == admin.account.pk
        assert event.item == TaskUser.objects.get(task=task, box_user_id=box_id).login
        assert event.job_id == job.pk

        # healed in that snapshot: the catalog now has the new name
        from boxvault.backups.models import CatalogVersion

        assert CatalogVersion.objects.filter(
            task=task, item_id=str(row["id"]), name="lost-event.txt"
        ).exists()
