"""A CCG task from the API against the sandbox, through Backup Now, the job and the repository."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from support import require_binary


def _api(client: Any, method: str, url: str, body: Any = None) -> Any:
    response = getattr(client, method)(url, body or {}, content_type="application/json")
    assert response.status_code < 300, (url, response.status_code, response.content[:500])
    return response.json()


def _restic(repo: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESTIC_PASSWORD": password, "RESTIC_CACHE_DIR": os.devnull}
    return subprocess.run(
        ["restic", "-r", repo, "--no-cache", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.django_db(transaction=True)
def test_ccg_task_backup_now_makes_snapshots_restic_accepts(client: Any, admin: Any, sandbox: Any) -> None:
    restic = require_binary("restic")
    from boxvault.backups import repository, vault
    from boxvault.backups.models import Task, TaskUser
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from portal.fixtures import login

    login(client, admin.user)
    created = _api(
        client,
        "post",
        "/api/v1/tasks/",
        {
            "name": "Enterprise (CCG)",
            "connection": {
                "kind": "ccg",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "enterprise_id": sandbox.enterprise_id,
                "api_url": sandbox.url,
            },
        },
    )
    assert created["status"] == "connected" and created["users_total"] >= 3
    task_id = created["id"]
    users = _api(client, "get", f"/api/v1/tasks/{task_id}/users/")["results"]
    assert {u["status"] for u in users} == {"not_active"}  # auto-activate is off by default
    chosen = [u["box_user_id"] for u in users if u["login"] != "admin"][:2]
    chosen = [u["box_user_id"] for u in users][:2] if len(chosen) < 2 else chosen
    after = _api(
        client,
        "post",
        f"/api/v1/tasks/{task_id}/users/actions/",
        {"action": "activate", "box_user_ids": chosen},
    )
    assert {u["status"] for u in after["users"]} == {"scheduled"}
    started = _api(
        client,
        "post",
        f"/api/v1/tasks/{task_id}/users/actions/",
        {"action": "backup_now", "box_user_ids": chosen},
    )
    assert len(started["jobs"]) == 2
    again = _api(
        client,
        "post",
        f"/api/v1/tasks/{task_id}/users/actions/",
        {"action": "backup_now", "box_user_ids": chosen},
    )
    assert again["jobs"] == []  # already in process: at most one run per user
    for job in started["jobs"]:
        assert jobs.run(job["id"]) == "succeeded", list(
            Job.objects.get(pk=job["id"]).log.values_list("message", flat=True)
        )

    task = Task.objects.get(pk=task_id)
    for row in TaskUser.objects.filter(task=task, box_user_id__in=chosen):
        assert row.status == "active" and row.last_backup_at and row.first_backup_at and row.size > 0
        assert row.last_snapshot_id and row.next_run_at
    job = Job.objects.get(pk=started["jobs"][0]["id"])
    assert job.items_done > 0 and job.result["snapshot_id"]

    password = repository.password(task)
    snaps = json.loads(_restic(task.repository, password, "snapshots", "--json").stdout)
    assert sorted(t for s in snaps for t in s["tags"] if t.startswith("user:")) == sorted(
        f"user:{u}" for u in chosen
    )
    assert all(
        f"task:{task.uuid}" in s["tags"] and s["hostname"] == f"box-{sandbox.enterprise_id}" for s in snaps
    )
    check = _restic(task.repository, password, "check", "--read-data")
    assert check.returncode == 0, check.stdout + check.stderr
    # Without the database: the escrow key opens the repository with the KEK and the task's uuid alone.
    escrow = vault.escrow_password(str(task.uuid))
    assert _restic(task.repository, escrow, "cat", "config").returncode == 0
    assert restic

    # the catalog knows every file of the snapshot
    from boxvault.backups.models import CatalogVersion

    assert CatalogVersion.objects.filter(task=task, box_user_id=chosen[0], item_type="file").count() > 0
    # the listing in the pages shows the figures
    page = client.get(f"/tasks/{task_id}/users/?status=active")
    assert page.status_code == 200 and page.content.count(b'name="box_user_id"') == 2
