"""Capturing Box's previous versions is a task setting (page and API, audited), and the portal's backup job
follows it: previous versions land in the snapshot and the catalog only when it is on (issue 19)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest


@pytest.mark.django_db
def test_capture_versions_on_the_page_and_the_api(
    client: Any, admin: Any, restricted: Any, make_task: Any
) -> None:
    from boxvault.backups.models import Task
    from boxvault.security.models import AuditEvent
    from portal.fixtures import login

    task = make_task()
    assert task.capture_versions is False  # off by default: previous versions cost storage
    login(client, admin.user)
    page = client.get(f"/tasks/{task.pk}/")
    assert b'name="capture_versions"' in page.content and b"previous versions" in page.content
    form = {"name": "Box", "frequency": "daily", "hour_utc": "1", "archived_retention_days": "90"}
    assert client.post(f"/tasks/{task.pk}/", {**form, "capture_versions": "on"}).status_code == 302
    assert Task.objects.get(pk=task.pk).capture_versions is True
    assert AuditEvent.objects.filter(description__contains="capture_versions: False → True").exists()

    url = f"/api/v1/tasks/{task.pk}/"
    assert client.get(url).json()["capture_versions"] is True
    off = client.patch(url, {"capture_versions": False}, content_type="application/json")
    assert off.status_code == 200 and off.json()["capture_versions"] is False
    for wrong in ("sometimes", 2, None):
        r = client.patch(url, {"capture_versions": wrong}, content_type="application/json")
        assert r.status_code == 400 and "capture_versions" in r.content.decode(), (wrong, r.content)
    login(client, restricted.user)  # may view tasks, not modify them
    assert client.patch(url, {"capture_versions": True}, content_type="application/json").status_code == 403
    assert Task.objects.get(pk=task.pk).capture_versions is False


@pytest.mark.django_db(transaction=True)
def test_the_backup_job_keeps_previous_versions_only_when_asked(admin: Any, tmp_path: Path) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.backups import services
    from boxvault.backups.models import CatalogVersion
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from support.sandbox import running_sandbox

    access = for_user(admin.user)
    with running_sandbox(tmp_path, users=1, files_per_user=40, seed=3) as sandbox:
        task = services.create_ccg_task(
            access,
            name="Versions",
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            enterprise_id=sandbox.enterprise_id,
            api_url=sandbox.url,
        )
        box_id = sandbox.users[0]["id"]
        services.user_action(access, task, "activate", [box_id])

        def run() -> Job:
            services.user_action(access, task, "backup_now", [box_id])
            job = Job.objects.filter(task_id=task.pk).order_by("-id")[0]
            assert jobs.run(job.pk) == "succeeded", list(job.log.values_list("message", flat=True))
            return cast(Job, Job.objects.get(pk=job.pk))

        run()
        assert not CatalogVersion.objects.filter(task=task, item_type="file_version").exists()
        services.update_settings(access, task, capture_versions=True)
        run()
        kept = CatalogVersion.objects.filter(task=task, item_type="file_version")
        assert kept.exists(), "the seed has files with several versions"
        assert all(v.path.startswith(".box-versions/") for v in kept), [v.path for v in kept[:3]]

        # what the versions cost: counted in the usage figures and shown on the task page
        from django.db.models import Sum

        from boxvault.backups import usage

        task.refresh_from_db()  # the first backup gave it its repository
        row = usage.refresh(task)
        live = kept.filter(until_snapshot__isnull=True)
        assert row.versions["held"] == live.count() > 0
        assert row.versions["logical_bytes"] == live.aggregate(total=Sum("size"))["total"]
        assert 0 < row.versions["stored_bytes_only_for_them"] < row.stored_bytes
        assert usage.usage_json(task)["versions"] == row.versions
        from django.test import Client

        page = Client()
        page.force_login(admin.user)
        html = page.get(f"/tasks/{task.pk}/").content.decode()
        assert (
            'id="versions-cost"' in html and f"{row.versions['held']} versions in the newest backups" in html
        )
