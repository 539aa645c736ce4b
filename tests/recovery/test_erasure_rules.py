"""GDPR erasure: who may ask (administrator, member with and without the operation, outsider), bad input is a
400 that queues nothing, the CLI takes the same checks, and the locking against concurrent backups."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from recovery.fixtures import back_up
from support import skip_on_in_memory_sqlite


def _member(admin: Any, email: str, operations: list[str]) -> Any:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from portal.fixtures import PASSWORD

    return add_member(
        for_user(admin.user), email=email, password=PASSWORD, operations=operations, services=["box"]
    )


def _post(client: Any, body: Any) -> Any:
    return client.post("/api/v1/erasures/", body, content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_permissions_bad_input_and_cli(
    client: Any, admin: Any, outsider: Any, sandbox: Any, tmp_path: Any, settings: Any
) -> None:
    from boxvault.jobs.models import Job
    from boxvault.recovery.models import Erasure
    from portal.fixtures import login

    backed = back_up(client, admin, sandbox)
    task, uid = backed.task.pk, backed.user["box_user_id"]
    snap = backed.snapshot
    good = {"task": task, "box_user_id": uid, "paths": [f"{backed.proj}/a.txt"], "reason": "request 1"}

    # bad input: a 400 with a sentence, and no job, no erasure row
    bad = [
        ({**good, "paths": []}, "at least one path"),
        ({**good, "paths": "x"}, "paths"),
        ({**good, "paths": [7]}, "paths"),
        ({**good, "paths": ["Proj/a.txt"]}, "absolute"),
        ({**good, "paths": [f"{backed.proj}/../x"]}, "'..'"),
        ({**good, "paths": [f"{backed.proj}/nope.txt"]}, "is not in any snapshot"),
        ({**good, "paths": ["/someone-else/x"]}, "outside the user's backups"),
        ({**good, "snapshot": f"{task}:deadbeefdeadbeef"}, "unknown snapshot"),
        ({**good, "snapshot": "zz"}, "unknown snapshot"),
        ({**good, "snapshot": snap, "paths": [f"{backed.proj}/zzz"]}, "is not in snapshot"),
        ({**good, "reason": "  "}, "reason"),
        ({k: v for k, v in good.items() if k != "reason"}, "reason"),
        ({**good, "box_user_id": "999999"}, "not a user of this task"),
        (["not", "an", "object"], "JSON object"),
    ]
    for body, words in bad:
        response = _post(client, body)
        assert response.status_code == 400, (body, response.content)
        assert words in response.json()["detail"], (body, response.json())
    assert _post(client, {**good, "task": 999999}).status_code == 404
    assert not Erasure.objects.exists() and not Job.objects.filter(kind="erasure").exists()

    # administrator: accepted (with a snapshot named, too)
    first = _post(client, {**good, "snapshot": snap})
    assert first.status_code == 201, first.content
    erasure_id = first.json()["id"]
    assert client.get("/api/v1/erasures/").json()["count"] == 1
    assert client.get(f"/api/v1/erasures/{erasure_id}/").status_code == 200

    # a member who may browse, restore and export but not erase
    restorer = _member(admin, "rita@a.example", ["preview_data", "restore", "export"])
    login(client, restorer.user)
    assert _post(client, good).status_code == 403
    for url in (
        "/api/v1/erasures/",
        f"/api/v1/erasures/{erasure_id}/",
        f"/api/v1/erasures/{erasure_id}/receipt/",
    ):
        assert client.get(url).status_code == 403, url
    # a member with the GDPR operation
    eraser = _member(admin, "erin@a.example", ["preview_data", "delete_items"])
    login(client, eraser.user)
    assert client.get(f"/api/v1/erasures/{erasure_id}/").status_code == 200
    second = _post(client, {**good, "paths": [f"{backed.proj}/Sub"]})
    assert second.status_code == 201, second.content

    # an outsider (another account's administrator): our ids do not exist for them
    login(client, outsider.user)
    assert _post(client, good).status_code == 404
    for url in (f"/api/v1/erasures/{erasure_id}/", f"/api/v1/erasures/{erasure_id}/receipt/"):
        assert client.get(url).status_code == 404, url
    assert client.get("/api/v1/erasures/").json()["count"] == 0
    assert Erasure.objects.count() == 2

    # the CLI: same checks, --yes required, --wait runs the job and writes the PDF receipt
    from typer.testing import CliRunner

    from boxvault.recovery.cli import app

    runner = CliRunner()
    data = ["--data", str(settings.DATA_DIR)]
    base = ["erase", "--email", admin.user.email, "--task", str(task), "--user", uid, *data]
    refused = runner.invoke(app, [*base, "--path", f"{backed.proj}/b.bin", "--reason", "r"])
    assert refused.exit_code == 2 and "--yes" in refused.output
    missing = runner.invoke(app, [*base, "--path", f"{backed.proj}/zz", "--reason", "r", "--yes"])
    assert missing.exit_code == 2 and "is not in any snapshot" in missing.output
    pdf = tmp_path / "receipt.pdf"
    ran = runner.invoke(
        app,
        [*base, "--path", f"{backed.proj}/b.bin", "--reason", "cli", "--yes", "--wait", "--json",
         "--receipt-pdf", str(pdf)],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert '"status": "completed"' in ran.output and pdf.read_bytes().startswith(b"%PDF")
    denied = runner.invoke(
        app, ["erase", "--email", restorer.user.email, "--task", str(task), "--user", uid, *data,
              "--path", f"{backed.proj}/a.txt", "--reason", "r", "--yes"],
    )  # fmt: skip
    assert denied.exit_code == 4


@pytest.mark.django_db(transaction=True)
def test_erasure_waits_for_a_running_backup_and_backups_wait_for_it(
    client: Any, admin: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boxvault.backups.exclusive import maintenance_running, wait_for_maintenance
    from boxvault.backups.repository import open_repository
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job, JobLogLine

    # seen in CI: the worker thread's log line met the main thread's query and failed at once ("database table
    # is locked: jobs_joblogline"); the PostgreSQL run covers it
    skip_on_in_memory_sqlite()
    monkeypatch.setenv("BOXVAULT_MAINTENANCE_LOCK_POLL_MS", "200")
    backed = back_up(client, admin, sandbox)
    body = {
        "task": backed.task.pk,
        "box_user_id": backed.user["box_user_id"],
        "paths": [f"{backed.proj}/a.txt"],
        "reason": "locking",
    }
    job_id = _post(client, body).json()["job"]["id"]

    # a backup is writing: it holds a shared lock on the repository
    repo = open_repository(backed.task)
    shared = repo.lock(exclusive=False).acquire()
    outcome: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: outcome.update(status=jobs.run(job_id)))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not JobLogLine.objects.filter(
            job_id=job_id, message__contains="waits for the repository"
        ).exists():
            assert time.monotonic() < deadline, "the erasure did not wait for the lock"
            time.sleep(0.1)
        assert Job.objects.get(pk=job_id).status == "in_progress"
        assert maintenance_running(backed.task.pk)

        # meanwhile a backup job of the same task waits before it starts
        class Ctx:
            lines: list[str] = []

            def log(self, message: str, level: str = "info") -> None:
                self.lines.append(message)

            def cancelled(self) -> bool:
                return False

        ctx = Ctx()
        waiter = threading.Thread(target=wait_for_maintenance, args=(backed.task.pk, ctx))
        waiter.start()
        time.sleep(1.0)
        assert waiter.is_alive() and ctx.lines  # still waiting, and said so
        assert worker.is_alive()
    finally:
        shared.release()
        repo.close()
    worker.join(60)
    waiter.join(30)
    assert outcome["status"] == "succeeded" and not waiter.is_alive()
    assert not maintenance_running(backed.task.pk)
