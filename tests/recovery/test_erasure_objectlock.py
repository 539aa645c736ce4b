"""Erasure on an S3 location with object lock (moto server): refused while the user's snapshots are locked,
saying until when and changing nothing; carried out once the lock has expired."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from recovery.fixtures import back_up
from support.emulators import Emulator, moto_s3

DAYS = 30


@pytest.fixture(scope="module")
def moto() -> Iterator[Emulator]:
    with moto_s3() as emulator:
        yield emulator


def _move_to_locked_bucket(task: Any, moto: Emulator, monkeypatch: pytest.MonkeyPatch, written: Any) -> str:
    """Copy the task's repository into a fresh object-lock bucket (locks taken at ``written``)."""
    from boxvault.backups.models import Task
    from boxvault.engine.storage import objectlock, open_backend

    location = moto.create_bucket(f"lock-{uuid.uuid4().hex[:10]}", object_lock=True).location("repo")
    source = open_backend(task.repository)
    with monkeypatch.context() as m:
        m.setattr(objectlock, "_utcnow", lambda: written)
        target = open_backend(location)
        for name, _ in source.list(""):
            if not name.startswith("locks/"):
                target.write(name, source.read(name))
    Task.objects.filter(pk=task.pk).update(repository=location)
    return location


def _snapshots(location: str) -> set[str]:
    from boxvault.engine.storage import open_backend

    return {name for name, _ in open_backend(location).list("snapshots")}


@pytest.mark.django_db(transaction=True)
def test_erasure_refuses_while_locked_then_proceeds(
    client: Any, admin: Any, sandbox: Any, moto: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from boxvault.recovery.models import Erasure

    for key, value in moto.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BOXVAULT_S3_OBJECT_LOCK_MODE", "governance")
    monkeypatch.setenv("BOXVAULT_S3_OBJECT_LOCK_DAYS", str(DAYS))
    backed = back_up(client, admin, sandbox)
    body = {
        "task": backed.task.pk,
        "box_user_id": backed.user["box_user_id"],
        "paths": [f"{backed.proj}/a.txt"],
        "reason": "object lock",
    }
    now = dt.datetime.now(dt.UTC)

    # locked now: the job fails, names the date, and the repository is as it was
    locked = _move_to_locked_bucket(backed.task, moto, monkeypatch, now)
    before = _snapshots(locked)
    # the snapshot page reads the exact retain-until date from the bucket
    until = (now + dt.timedelta(days=DAYS)).date().isoformat()
    page = client.get(f"/recovery/snapshots/{backed.snapshot}/")
    assert page.status_code == 200
    assert b"data-protected-until" in page.content and until.encode() in page.content
    response = client.post("/api/v1/erasures/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    job_id = response.json()["job"]["id"]
    assert jobs.run(job_id) == "failed"
    row = Erasure.objects.get(job_id=job_id)
    assert row.status == Erasure.Status.FAILED
    until = (now + dt.timedelta(days=DAYS)).date().isoformat()
    assert "cannot be deleted before" in row.message and until in row.message, row.message
    assert until in Job.objects.get(pk=job_id).message, "the Jobs page says until when"
    assert _snapshots(locked) == before

    # the same repository whose locks were taken DAYS + 1 days ago: the erasure goes through
    expired = _move_to_locked_bucket(backed.task, moto, monkeypatch, now - dt.timedelta(days=DAYS + 1))
    response = client.post("/api/v1/erasures/", body, content_type="application/json")
    job_id = response.json()["job"]["id"]
    assert jobs.run(job_id) == "succeeded"
    assert Erasure.objects.get(job_id=job_id).status == Erasure.Status.COMPLETED
    assert _snapshots(expired) != before


class _Ctx:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def log(self, message: str, level: str = "info") -> None:
        self.lines.append((level, message))

    def progress(self, **_: Any) -> None:
        return

    def raise_if_cancelled(self) -> None:
        return

    def cancelled(self) -> bool:
        return False


@pytest.mark.django_db(transaction=True)
def test_retention_keeps_locked_snapshots_and_purge_refuses(
    client: Any, admin: Any, sandbox: Any, moto: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boxvault.backups.models import CatalogSnapshot, Task, TaskUser
    from boxvault.backups.retention import run_purge, run_retention
    from boxvault.engine.storage.objectlock import ObjectLocked

    for key, value in moto.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BOXVAULT_S3_OBJECT_LOCK_MODE", "compliance")
    monkeypatch.setenv("BOXVAULT_S3_OBJECT_LOCK_DAYS", str(DAYS))
    backed = back_up(client, admin, sandbox)
    Task.objects.filter(pk=backed.task.pk).update(retention=Task.Retention.DAYS, retention_value=1)
    user = backed.user["box_user_id"]
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(days=2)  # every snapshot is past the 1-day retention

    locked = _move_to_locked_bucket(backed.task, moto, monkeypatch, now)
    before = _snapshots(locked)
    ctx = _Ctx()
    task = Task.objects.get(pk=backed.task.pk)
    assert run_retention(task, ctx, now=later)["removed"] == []
    until = (now + dt.timedelta(days=DAYS)).date().isoformat()
    assert any(level == "warning" and until in text for level, text in ctx.lines), ctx.lines
    assert _snapshots(locked) == before
    assert CatalogSnapshot.objects.filter(task=task, box_user_id=user).exists()

    # the purge of a user refuses as a whole, naming the date: rows and snapshots stay
    with pytest.raises(ObjectLocked, match=until):
        run_purge(task, [user], _Ctx())
    assert _snapshots(locked) == before
    assert TaskUser.objects.filter(task=task, box_user_id=user).exists()

    # locks taken DAYS + 1 days ago have expired: the same pass removes the snapshots
    expired = _move_to_locked_bucket(task, moto, monkeypatch, now - dt.timedelta(days=DAYS + 1))
    task = Task.objects.get(pk=task.pk)
    assert run_retention(task, _Ctx(), now=later)["removed"]
    assert _snapshots(expired) == set()
