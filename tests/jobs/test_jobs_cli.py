"""`boxvault jobs list|show|cancel` in-process on the test database (test_jobs_processes.py runs the real
command once through the dispatcher)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from boxvault.jobs import cli


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setattr(cli, "_setup", lambda data: None)  # the test database is already configured
    runner = CliRunner()
    return lambda *args: runner.invoke(cli.jobs_app, list(args))


def test_list_show_cancel(
    run: Callable[..., Any], admin: Any, outsider: Any, make_job: Callable[..., Any]
) -> None:
    from boxvault.jobs import services

    first, second = make_job(), make_job(account=outsider.account)
    done = make_job("test_partial")
    services.run(done.pk, "w1")
    listed = json.loads(run("list", "--json", "--status", "pending").stdout)
    assert [j["id"] for j in listed] == [second.pk, first.pk]
    assert [
        j["id"] for j in json.loads(run("list", "--json", "--account", str(admin.account_id)).stdout)
    ] == [done.pk, first.pk]
    text = run("list").stdout
    assert f"{done.pk}" in text and "partially_succeeded" in text
    shown = json.loads(run("show", str(done.pk), "--json").stdout)
    assert shown["status"] == "partially_succeeded" and any(
        "could not be read" in ln["message"] for ln in shown["log"]
    )
    assert "could not be read" in run("show", str(done.pk)).stdout
    canceled = json.loads(run("cancel", str(first.pk), "--json").stdout)
    assert canceled["status"] == "canceled"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "987654"], "no job with id 987654"),
        (["cancel", "987654"], "no job with id 987654"),
        (["list", "--status", "maybe"], "unknown status"),
    ],
)
def test_bad_input(run: Callable[..., Any], db: Any, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_cancel_finished_job_is_refused(
    run: Callable[..., Any], admin: Any, make_job: Callable[..., Any]
) -> None:
    from boxvault.jobs import services

    job = make_job("test_partial")
    services.run(job.pk, "w1")
    result = run("cancel", str(job.pk))
    assert result.exit_code == 1 and "already finished" in result.output
