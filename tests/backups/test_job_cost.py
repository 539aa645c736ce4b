"""A user's backup job costs the same whatever the task's size (issue 10).

Real components: the sandbox (its request statistics count the Box API calls), the jobs app running the job,
the engine on a local repository whose requests the worker's held repository counts below its disk cache.
These fail if a user job lists the enterprise's users, lists (or reads) the repository's snapshots, or
reads an index file the worker already holds.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest


def _api(client: Any, method: str, url: str, body: Any = None) -> Any:
    response = getattr(client, method)(url, body or {}, content_type="application/json")
    assert response.status_code < 300, (url, response.status_code, response.content[:500])
    return response.json()


def _sandbox_stats(sandbox: Any, reset: bool = False) -> dict[str, Any]:
    method = "DELETE" if reset else "GET"
    with urllib.request.urlopen(urllib.request.Request(f"{sandbox.url}/_sandbox/stats", method=method)) as r:
        body = r.read()
    return json.loads(body) if body else {}


def _backup_now(client: Any, task_id: int, box_user_id: str) -> Any:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    started = _api(
        client,
        "post",
        f"/api/v1/tasks/{task_id}/users/actions/",
        {"action": "backup_now", "box_user_ids": [box_user_id]},
    )
    (job,) = started["jobs"]
    assert jobs.run(job["id"]) == "succeeded", list(
        Job.objects.get(pk=job["id"]).log.values_list("message", flat=True)
    )
    return Job.objects.get(pk=job["id"])


def _add_other_snapshots(task: Any, count: int) -> None:
    """Snapshots of other users written by another process (a plain, uncached repository)."""
    from boxvault.backups import repository
    from boxvault.engine.gojson import format_datetime
    from boxvault.engine.index import DATA
    from boxvault.engine.repository import Repository
    from boxvault.engine.snapshot import Snapshot
    from boxvault.engine.storage import open_backend

    repo = Repository.open(open_backend(task.repository), repository.password(task))
    template = repo.load_snapshot(repo.list_ids("snapshots")[0])
    for i in range(count):
        snap = Snapshot.from_json(template.to_json(), "")
        snap.tags = ["box", f"user:other{i}", f"task:{task.uuid}"]
        snap.time = format_datetime(datetime(2030, 1, 1, tzinfo=UTC))  # newer than any real one
        repo.save_snapshot(snap)
    # and one new index file, as another worker's backup would leave
    with repo.writer() as writer:
        writer.save_now(DATA, b"written by another worker")
    repo.close()


@pytest.mark.django_db(transaction=True)
def test_user_job_lists_no_users_no_snapshots_and_reads_only_new_index_files(
    client: Any, admin: Any, sandbox: Any
) -> None:
    from boxvault.backups import repository
    from boxvault.backups.models import CatalogSnapshot, Task, TaskUser
    from portal.fixtures import login

    repository.drop_held()
    login(client, admin.user)
    created = _api(
        client,
        "post",
        "/api/v1/tasks/",
        {
            "name": "Cost",
            "connection": {
                "kind": "ccg",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "enterprise_id": sandbox.enterprise_id,
                "api_url": sandbox.url,
            },
        },
    )
    task_id = created["id"]
    users = _api(client, "get", f"/api/v1/tasks/{task_id}/users/")["results"]
    uid = next(u["box_user_id"] for u in users if u["login"] != "admin")
    _api(
        client,
        "post",
        f"/api/v1/tasks/{task_id}/users/actions/",
        {"action": "activate", "box_user_ids": [uid]},
    )

    first = _backup_now(client, task_id, uid)
    task = Task.objects.get(pk=task_id)
    snap = CatalogSnapshot.objects.get(snapshot_id=first.result["snapshot_id"])
    assert snap.files == first.result["files"] > 0 and snap.bytes == first.result["bytes"]

    _add_other_snapshots(task, 25)
    (held,) = repository._held.values()  # the worker kept the repository it opened for the first job
    before = held.counter.snapshot()
    _sandbox_stats(sandbox, reset=True)

    second = _backup_now(client, task_id, uid)

    box = _sandbox_stats(sandbox)["requests"]
    assert not [route for route in box if route.startswith("GET /2.0/users") and "me" not in route], box
    (again,) = repository._held.values()
    assert again is held  # no second scrypt, no second index load
    after = again.counter.snapshot()
    used = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert used.get("list snapshots", 0) == 0, used
    assert used.get("read snapshots", 0) == 0, used  # the parent came from the disk cache
    assert used.get("list keys", 0) == 0 and used.get("read keys", 0) == 0, used
    assert used.get("read index", 0) == 1, used  # only the index file the other worker wrote
    assert second.result["storage_requests"] == sum(used.values())
    assert second.result["box_requests"] > 0
    parent = TaskUser.objects.get(task=task, box_user_id=uid).last_snapshot_id
    assert parent == second.result["snapshot_id"] != first.result["snapshot_id"]
    # the parent of the new snapshot is this user's, not the other users' newer ones
    assert held.repo.load_snapshot(parent).parent == bytes.fromhex(first.result["snapshot_id"])
    repository.drop_held()
