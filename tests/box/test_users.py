"""Auto-discovery: new, deactivated and deleted users between runs; only active users get a snapshot."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from boxcheck import Sandbox, restic_snapshots

from support import require_binary, run_cli

pytestmark = pytest.mark.slow


def test_user_changes_between_runs(box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str]) -> None:
    require_binary("restic")
    sandbox = box_sandbox(users=3, files_per_user=4, large_files=0, seed=8)
    users = [u["id"] for u in sandbox.creds["users"]]

    def backup() -> dict[str, Any]:
        proc = run_cli(
            [
                "box",
                "backup",
                *sandbox.cli_args(),
                "--json",
                "--init",
                "--rate-per-user",
                "0",
                "--no-metadata",
            ],
            env=repo_env,
        )
        report: dict[str, Any] = json.loads(proc.stdout)
        assert report["status"] == "succeeded", report
        return report

    first = backup()
    assert {u["id"] for u in first["user_changes"]["new"]} >= set(users)
    assert set(users) <= {u["box_user_id"] for u in first["users"]}

    sandbox.server.deactivate_user(users[0])
    sandbox.server.delete_user(users[1])
    added = sandbox.server.add_user("new.person@example.com", "New Person")
    second = backup()
    changes = second["user_changes"]
    assert [u["id"] for u in changes["deactivated"]] == [users[0]]
    assert [u["id"] for u in changes["deleted"]] == [users[1]]
    assert [u["id"] for u in changes["new"]] == [added["id"]]
    backed_up = {u["box_user_id"] for u in second["users"]}
    assert added["id"] in backed_up and users[2] in backed_up
    assert users[0] not in backed_up and users[1] not in backed_up
    tags = [s["tags"] for s in restic_snapshots(repo_env)]
    assert ["box", f"user:{added['id']}", "task:cli"] in tags


def test_quiet_user_needs_the_catalog(box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str]) -> None:
    """Without the catalog rows of the previous snapshot a quiet user is walked, not copied blindly."""
    from pathlib import Path

    sandbox = box_sandbox(users=1, files_per_user=6, large_files=0, seed=10)
    uid = sandbox.creds["users"][0]["id"]
    args = ["box", "backup", *sandbox.cli_args(), "--json", "--init", "--user", uid, "--rate-per-user", "0"]
    first = json.loads(run_cli(args, env=repo_env).stdout)["users"][0]
    quiet = json.loads(run_cli(args, env=repo_env).stdout)["users"][0]
    assert quiet["unchanged"] and quiet["files"] == first["files"] > 0 and quiet["listing_pages"] == 1
    for catalog in Path(repo_env["XDG_STATE_HOME"]).rglob("catalog.sqlite*"):
        catalog.unlink()
    walked = json.loads(run_cli(args, env=repo_env).stdout)["users"][0]
    assert not walked["unchanged"] and walked["files"] == first["files"] and walked["listing_pages"] > 1


def test_user_whose_files_cannot_be_listed_fails_without_a_snapshot(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str]
) -> None:
    sandbox = box_sandbox(users=2, files_per_user=3, large_files=0, seed=11)
    gone, ok = (u["id"] for u in sandbox.creds["users"])
    sandbox.server.deactivate_user(gone)  # As-User is refused for an inactive user
    proc = run_cli(
        [
            "box",
            "backup",
            *sandbox.cli_args(),
            "--json",
            "--init",
            "--user",
            gone,
            "--user",
            ok,
            "--rate-per-user",
            "0",
        ],
        env=repo_env,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr  # partial: one user failed, the other has its snapshot
    report = json.loads(proc.stdout)
    by_id = {u["box_user_id"]: u for u in report["users"]}
    assert by_id[gone]["status"] == "failed" and by_id[gone]["snapshot_id"] is None
    assert "not active" in by_id[gone]["error"] and "\n" not in by_id[gone]["error"]
    assert by_id[ok]["status"] == "succeeded"
    assert [s["tags"][1] for s in restic_snapshots(repo_env)] == [f"user:{ok}"]
