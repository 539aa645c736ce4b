"""`boxvault recovery ...` in-process against the test database, and its wiring in `boxvault`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from recovery.fixtures import CONTENT, back_up, find


def test_recovery_group_is_wired() -> None:
    from support import run_cli

    out = run_cli(["recovery", "--help"]).stdout
    assert all(word in out for word in ("snapshots", "tree", "restore", "export"))


@pytest.mark.django_db(transaction=True)
def test_cli_snapshots_tree_restore_export(client: Any, admin: Any, sandbox: Any, tmp_path: Any) -> None:
    from boxvault.recovery.cli import app

    backed = back_up(client, admin, sandbox)
    email = admin.user.email
    runner = CliRunner()

    def call(*args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    listed = call(
        "snapshots",
        "--task",
        str(backed.task.pk),
        "--user",
        backed.user["box_user_id"],
        "--email",
        email,
        "--json",
    )
    assert listed.exit_code == 0, listed.output
    assert [s["id"] for s in json.loads(listed.stdout)] == [backed.snapshot]
    tree = call("tree", backed.snapshot, "--path", backed.proj, "--email", email, "--json")
    assert tree.exit_code == 0 and {e["name"] for e in json.loads(tree.stdout)["results"]} == {
        "a.txt",
        "b.bin",
        "Sub",
    }

    backed.client.files.delete_file_by_id(str(find(backed.client, "Proj/a.txt").id))
    restored = call(
        "restore",
        backed.snapshot,
        "--mode",
        "bypass",
        "--path",
        f"{backed.proj}/a.txt",
        "--email",
        email,
        "--wait",
        "--json",
    )
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["status"] == "succeeded"
    assert find(backed.client, "Proj/a.txt") is not None

    exported = call("export", backed.snapshot, "--kind", "zip", "--email", email, "--wait", "--json")
    assert exported.exit_code == 0 and json.loads(exported.stdout)["result"]["download_url"]
    assert json.loads(exported.stdout)["result"]["files"] >= len(CONTENT)

    # refusals: bad input 2, not found 3, unknown user 1
    assert call("tree", "nonsense", "--email", email).exit_code == 2
    assert call("tree", f"{backed.task.pk}:ffffffff", "--email", email).exit_code == 3
    assert call("restore", backed.snapshot, "--mode", "shred", "--email", email).exit_code == 2
    assert call("tree", backed.snapshot, "--email", "nobody@nowhere.example").exit_code == 1
    bad = tmp_path / "target.json"
    bad.write_text("[1]")
    assert (
        call("export", backed.snapshot, "--kind", "s3", "--target-file", str(bad), "--email", email).exit_code
        == 2
    )
