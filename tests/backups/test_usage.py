"""Storage usage per task and per Box user, judged by stock restic (`stats`) and by the repository directory
itself; refreshed after a prune job; on the task page, the users table and the API, for whom may see it."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support import require_binary


def _restic(task: Any, *args: str) -> Any:
    from boxvault.backups import repository

    out = subprocess.run(
        ["restic", "-r", task.repository, "--no-cache", *args, "--json"],
        env={**os.environ, "RESTIC_PASSWORD": repository.password(task)}, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def _write(repo: Any, login: str, uid: str, when: datetime, files: dict[str, bytes]) -> str:
    with repo.writer() as w:
        b = w.snapshot(hostname="box-e1", paths=[f"/{login}"], tags=["box", f"user:{uid}"], time=when)
        for name, data in files.items():
            with b.add_file(f"/{login}/{name}") as f:
                f.write(data)
        return str(b.commit())


@pytest.mark.django_db(transaction=True)
def test_usage_matches_restic_and_follows_prunes(
    client: Any, admin: Any, outsider: Any, make_task: Any
) -> None:
    require_binary("restic")
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.backups import retention, usage
    from boxvault.backups.models import StorageUsage, TaskUser
    from boxvault.backups.repository import open_repository
    from boxvault.core import clock
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from portal.fixtures import PASSWORD, login

    task = make_task(users=2, retention="days", retention_value=10)
    ann, bob = TaskUser.objects.filter(task=task).order_by("box_user_id")
    shared = os.urandom(200_000)  # both users hold it: deduplicated, shared half and half
    start = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)
    with open_repository(task) as repo:
        for day in range(3):
            when = start + timedelta(days=day * 10)
            _write(
                repo,
                ann.login,
                ann.box_user_id,
                when,
                {"shared.bin": shared, f"a{day}.bin": os.urandom(50_000)},
            )
        _write(repo, bob.login, bob.box_user_id, start, {"shared.bin": shared, "b.bin": os.urandom(120_000)})
    task.refresh_from_db()

    figures = usage.compute(task)
    on_disk = sum(p.stat().st_size for p in Path(task.repository, "data").rglob("*") if p.is_file())
    assert figures["stored_bytes"] == on_disk and figures["snapshots"] == 4
    # restic's raw-data: the blobs the snapshots need, each once
    raw = _restic(task, "stats", "--mode", "raw-data")
    assert abs(figures["referenced_bytes"] - raw["total_size"]) <= raw.get("total_blob_count", 0) * 32 + 1024
    users = figures["users"]
    assert sum(u["share_bytes"] for u in users.values()) == pytest.approx(figures["referenced_bytes"], abs=2)
    # what only one user needs: the total minus what the other's snapshots need (restic, per tag)
    only_bob = _restic(task, "stats", "--mode", "raw-data", "--tag", f"user:{bob.box_user_id}")
    only_ann = _restic(task, "stats", "--mode", "raw-data", "--tag", f"user:{ann.box_user_id}")
    slack = 64 * 40
    assert (
        abs(users[ann.box_user_id]["exclusive_bytes"] - (raw["total_size"] - only_bob["total_size"])) < slack
    )
    assert (
        abs(users[bob.box_user_id]["exclusive_bytes"] - (raw["total_size"] - only_ann["total_size"])) < slack
    )
    assert users[ann.box_user_id]["share_bytes"] > users[bob.box_user_id]["share_bytes"]
    # the logical size of each user's newest snapshot (restic's restore-size of that snapshot)
    newest = _restic(task, "stats", "--mode", "restore-size", users[ann.box_user_id]["latest_snapshot"])
    assert users[ann.box_user_id]["latest_logical_bytes"] == newest["total_size"] == 250_000
    assert (
        users[ann.box_user_id]["snapshots"] == 3 and users[bob.box_user_id]["latest_logical_bytes"] == 320_000
    )

    # the API computes on first use; a retention job (forget + prune) refreshes it
    login(client, admin.user)
    body = client.get(f"/api/v1/tasks/{task.pk}/usage/").json()
    assert body["stored_bytes"] == on_disk and [u["box_user_id"] for u in body["users"]][0] == ann.box_user_id
    with clock.frozen_at(start + timedelta(days=21)):
        retention.apply_all()
        job = Job.objects.get(kind="retention", task_id=task.pk)
        assert jobs.run(job.pk) == "succeeded"
    row = StorageUsage.objects.get(task=task)
    after_disk = sum(p.stat().st_size for p in Path(task.repository, "data").rglob("*") if p.is_file())
    assert row.stored_bytes == after_disk < on_disk and row.snapshots == 1 and not row.stale
    assert row.users[ann.box_user_id]["snapshots"] == 1 and bob.box_user_id not in row.users

    # the pages
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert 'id="storage-usage"' in page and "Needed by snapshots" in page
    users_page = client.get(f"/tasks/{task.pk}/users/").content.decode()
    assert "Stored share" in users_page and users_page.count('class="stored-share"') == 2

    # who may see it: a member with View backup tasks, not one without; outsiders get 404
    viewer = add_member(
        for_user(admin.user),
        email="v@a.example",
        password=PASSWORD,
        operations=["view_tasks"],
        services=["box"],
    )
    other = add_member(
        for_user(admin.user),
        email="o@a.example",
        password=PASSWORD,
        operations=["view_activity"],
        services=["box"],
    )
    login(client, viewer.user)
    assert client.get(f"/api/v1/tasks/{task.pk}/usage/").status_code == 200
    login(client, other.user)
    assert client.get(f"/api/v1/tasks/{task.pk}/usage/").status_code == 403
    login(client, outsider.user)
    assert client.get(f"/api/v1/tasks/{task.pk}/usage/").status_code == 404
