"""`boxvault task ...` in-process on the test database (the data-directory set-up is tested by the portal)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from backups.fixtures import TEST_KEK


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    from boxvault.backups import cli as module

    monkeypatch.setattr(module, "_setup", lambda data: None)
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(module.app, list(args), **kw)


@pytest.mark.django_db
def test_task_commands(cli: Any, make_task: Any, queued: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    from boxvault.backups import repository
    from boxvault.backups.models import TaskUser

    task = make_task()
    listed = cli("list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["name"] for r in rows] == ["Daily Box"] and rows[0]["users_total"] == 3
    assert json.loads(cli("show", str(task.uuid)).output)["id"] == task.pk
    assert "Daily Box" in cli("list").output

    TaskUser.objects.filter(task=task, box_user_id="101").update(status="paused")
    users = json.loads(cli("users", str(task.pk), "--status", "paused", "--json").output)
    assert [u["box_user_id"] for u in users] == ["101"]

    started = cli("backup-now", str(task.pk), "--user", "100", "--json")
    assert started.exit_code == 0, started.output
    first = json.loads(started.output)
    assert first[0]["job"] and TaskUser.objects.get(task=task, box_user_id="100").status == "in_process"
    again = json.loads(cli("backup-now", str(task.pk), "--user", "100", "--json").output)
    assert again == [{"box_user_id": "100", "job": None}]

    assert cli("repo-password", str(task.pk)).output.strip() == repository.password(task)
    monkeypatch.setenv("BOXVAULT_KEK", TEST_KEK)
    monkeypatch.delenv("BOXVAULT_KEK_FILE", raising=False)
    from boxvault.backups import vault

    assert cli("escrow-password", str(task.uuid)).output.strip() == vault.escrow_password(str(task.uuid))

    kept = json.loads(cli("retention", str(task.pk), "--keep", "90d", "--json").output)
    assert kept == {"task": task.pk, "retention": "90 days", "removed_snapshots": []}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "999"], "no backup task"),
        (["show", "not-a-uuid"], "no backup task"),
        (["users", "00000000-0000-0000-0000-000000000000"], "no backup task"),
        (["backup-now", "{task}", "--user", "nobody"], "unknown Box user"),
        (["retention", "{task}", "--keep", "forever"], "--keep is"),
        (["retention", "{task}", "--keep", "0d"], "at least 1"),
        (["escrow-password", "nope"], "uuid"),
    ],
)
def test_bad_input_is_a_clear_error(cli: Any, make_task: Any, args: list[str], message: str) -> None:
    task = make_task()
    result = cli(*[a.format(task=task.pk) for a in args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
