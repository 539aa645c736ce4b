"""`boxvault notifications send-due|preview` in-process on the test database."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from boxvault.notifications import cli
from notifications.fixtures import finish_job


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    monkeypatch.setattr(cli, "_setup", lambda data: None)  # the test database is already configured
    runner = CliRunner()
    return lambda *args: runner.invoke(cli.app, list(args))


@pytest.mark.django_db
def test_send_due_and_preview(
    run: Callable[..., Any], smtp: Any, admin: Any, make_task: Callable[..., Any]
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.models import Account
    from boxvault.backups.models import TaskUser
    from boxvault.notifications import services

    Account.objects.filter(pk=admin.account_id).update(created_at=datetime(2026, 1, 1, tzinfo=UTC))
    task = make_task(users=1)
    user = TaskUser.objects.get(task=task)
    finish_job(
        admin.account, task, user, "succeeded", datetime(2026, 3, 3, 2, tzinfo=UTC), result={"files": 42}
    )
    services.add_recipient(for_user(admin.user), email="ops@example.org", types=["summary"])

    preview = run(
        "preview", "--email", "ADMIN@a.example", "--type", "summary", "--now", "2026-03-03T08:00:00Z"
    )
    assert preview.exit_code == 0, preview.output
    assert "Backup tasks overview for 2026-03-02 07:00 UTC to 2026-03-03 07:00 UTC" in preview.stdout
    assert "user0@box.example: Succeeded" in preview.stdout and "42 items" in preview.stdout
    assert "--- CSV ---" in preview.stdout and "task,box_user,last_run_utc" in preview.stdout
    assert smtp.take() == []  # a preview sends nothing and claims nothing

    sent = run("send-due", "--now", "2026-03-03T08:00:00Z", "--json")
    assert sent.exit_code == 0, sent.output
    outcome = json.loads(sent.stdout)
    assert outcome["queued"]["summary"] == 1 and outcome["sent"] == 1
    assert len(smtp.take()) == 1
    again = run("send-due", "--now", "2026-03-03T08:30:00")
    assert again.exit_code == 0 and "queued 0 report(s)" in again.stdout


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["send-due", "--now", "yesterday"], "not an ISO date"),
        (["preview", "--email", "nobody@x.example"], "no member with the e-mail"),
        (["preview", "--email", "admin@a.example", "--type", "recovery"], "only 'summary'"),
    ],
)
def test_cli_errors(run: Callable[..., Any], admin: Any, args: list[str], words: str) -> None:
    result = run(*args)
    assert result.exit_code == 2 and words in result.output
