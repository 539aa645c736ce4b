"""A sandbox with a known tree per user, and a task that has backed one user up through the real job."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from support.sandbox_pool import shared_sandbox

CREATED = datetime(2019, 3, 4, 5, 6, 7, tzinfo=UTC)
MODIFIED = datetime(2021, 8, 9, 10, 11, 12, tzinfo=UTC)

# name -> content of the files each user gets under "Proj" (paths relative to Proj)
CONTENT = {
    "a.txt": b"alpha file\n" * 50,
    "b.bin": bytes(range(256)) * 300,
    "Sub/c.txt": b"charlie in a subfolder\n" * 10,
    "Sub/Deep/d.md": b"# deep\n",
}


def sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


# One small seeded sandbox for the recovery tests (each test works on a user of its own).
sandbox = shared_sandbox(users=160, files_per_user=2, seed=7)


def folder_items(client: Any, folder_id: str) -> dict[str, Any]:
    page = client.folders.get_folder_items(folder_id, limit=1000)
    return {str(item.name): item for item in page.entries or []}


def find(client: Any, path: str, root: str = "0") -> Any:
    """The item at `path` below folder `root` (None when missing)."""
    folder, item = root, None
    for part in path.split("/"):
        item = folder_items(client, folder).get(part)
        if item is None:
            return None
        folder = str(item.id)
    return item


def upload(client: Any, parent: str, name: str, data: bytes) -> str:
    from box_sdk_gen.managers.uploads import UploadFileAttributes, UploadFileAttributesParentField

    attrs = UploadFileAttributes(
        name,
        UploadFileAttributesParentField(id=parent),
        content_created_at=CREATED,
        content_modified_at=MODIFIED,
    )
    return str(client.uploads.upload_file(attrs, io.BytesIO(data)).entries[0].id)


def make_tree(client: Any) -> str:
    from box_sdk_gen.managers.folders import CreateFolderParent

    folders = {"": str(client.folders.create_folder("Proj", CreateFolderParent(id="0")).id)}
    for rel, data in CONTENT.items():
        parent = ""
        for part in rel.split("/")[:-1]:
            here = f"{parent}/{part}".strip("/")
            if here not in folders:
                folders[here] = str(
                    client.folders.create_folder(part, CreateFolderParent(id=folders[parent])).id
                )
            parent = here
        upload(client, folders[parent], rel.split("/")[-1], data)
    return folders[""]


@dataclass
class Backed:
    task: Any
    user: dict[str, str]  # box_user_id, login
    other: dict[str, str]
    client: Any  # SDK client acting as `user`
    other_client: Any
    snapshot: str  # "<task id>:<snapshot id>"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def proj(self) -> str:
        return f"/{self.user['login']}/Proj"


_used: list[int] = []


def back_up(client: Any, admin: Any, sandbox: Any, prepare: Any = None) -> Backed:
    """A CCG task over the API, a tree made in a fresh user's Box, Backup Now and its job run here."""
    from boxvault.jobs import services as jobs
    from portal.fixtures import login

    login(client, admin.user)
    response = client.post(
        "/api/v1/tasks/",
        {
            "name": "Recovery test",
            "connection": {
                "kind": "ccg",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "enterprise_id": sandbox.enterprise_id,
                "api_url": sandbox.url,
            },
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    task_id = response.json()["id"]
    users = client.get(f"/api/v1/tasks/{task_id}/users/", {"page_size": 500}).json()["results"]
    candidates = [u for u in users if u["box_user_id"] != sandbox.admin_user_id]
    # every test takes two users nobody else touched (a sandbox per xdist worker; 160 users = 79 tests)
    index = len(_used)
    _used.extend([index, index + 1])
    assert index + 1 < len(candidates), "the recovery sandbox ran out of fresh users: seed more"
    user, other = candidates[index], candidates[index + 1]
    user_client = sandbox.ccg_client(user["box_user_id"])
    make_tree(user_client)
    if prepare is not None:
        prepare(user_client, other)
    started = client.post(
        f"/api/v1/tasks/{task_id}/users/actions/",
        {"action": "backup_now", "box_user_ids": [user["box_user_id"]]},
        content_type="application/json",
    ).json()
    if not started.get("jobs"):
        client.post(
            f"/api/v1/tasks/{task_id}/users/actions/",
            {"action": "activate", "box_user_ids": [user["box_user_id"], other["box_user_id"]]},
            content_type="application/json",
        )
        started = client.post(
            f"/api/v1/tasks/{task_id}/users/actions/",
            {"action": "backup_now", "box_user_ids": [user["box_user_id"]]},
            content_type="application/json",
        ).json()
    assert jobs.run(started["jobs"][0]["id"]) == "succeeded"
    from boxvault.backups.models import Task

    snaps = client.get(f"/api/v1/tasks/{task_id}/users/{user['box_user_id']}/snapshots/").json()
    assert snaps["count"] == 1, snaps
    return Backed(
        task=Task.objects.get(pk=task_id),
        user=user,
        other=other,
        client=user_client,
        other_client=sandbox.ccg_client(other["box_user_id"]),
        snapshot=snaps["results"][0]["id"],
    )


def run_job(client: Any, url: str, body: dict[str, Any], expect: str = "succeeded") -> dict[str, Any]:
    """POST a job's request to the API, run the job here; it must end `expect`. Its job, result and log."""
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    status = jobs.run(job_id)
    job = Job.objects.get(pk=job_id)
    log = list(job.log.values_list("message", flat=True))
    assert status == expect, (status, log)
    return {"job": job, "result": job.result, "log": log}


def restore_job(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """A restore (POST /api/v1/restores/) run here; it must succeed."""
    done = run_job(client, "/api/v1/restores/", body)
    assert done["job"].message.startswith("Restored ")  # not "restoring" once it has finished
    return done
