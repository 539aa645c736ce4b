"""kill -9 in the middle of a backup, then again: it completes, downloads nothing it had stored, and
`restic check` accepts the repository."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from boxcheck import PASSWORD, Sandbox, restic, restic_snapshots, sdk_client, sdk_files, snapshot_nodes

from support import boxvault_cmd, cli_env, require_binary, run_cli, wait_for

pytestmark = pytest.mark.slow


def _durable_file_ids(state_home: Path) -> set[str]:
    found: set[str] = set()
    for db in state_home.rglob("blobcache.sqlite"):
        with sqlite3.connect(db) as conn:
            found |= {row[0] for row in conn.execute("SELECT file_id FROM file_versions")}
    return found


def test_kill_9_then_rerun(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str], tmp_path: Path
) -> None:
    require_binary("restic")
    sandbox = box_sandbox(users=1, files_per_user=300, large_files=0, seed=5)
    creds = sandbox.creds
    uid = creds["users"][0]["id"]
    run_cli(["repo", "init"], env=repo_env)
    sandbox.reset_stats()
    half = len(sdk_files(sdk_client(sandbox.url, creds, uid))) // 2
    sandbox.set_faults(latency_ms=80, paths=["/dl/"])  # slow downloads so the kill lands mid-run
    args = [
        "box",
        "backup",
        *sandbox.cli_args(),
        "--json",
        "--user",
        uid,
        "--rate-per-user",
        "0",
        "--checkpoint-seconds",
        "0.5",
        "--workers",
        "4",
    ]
    proc = subprocess.Popen(
        boxvault_cmd(*args),
        env=cli_env(repo_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: len(_durable_file_ids(Path(repo_env["XDG_STATE_HOME"]))) >= half,
            120,
            "a checkpoint with half the files",
        )
        assert proc.poll() is None, "the backup finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first_downloads = set(sandbox.stats()["downloads"])
    durable = _durable_file_ids(Path(repo_env["XDG_STATE_HOME"]))
    files = sdk_files(sdk_client(sandbox.url, creds, uid))
    assert durable and durable <= first_downloads and len(first_downloads) < len(files)
    assert restic_snapshots(repo_env) == []  # killed before its snapshot

    sandbox.clear_faults()
    sandbox.reset_stats()
    proc2 = run_cli(args, env=repo_env)
    report = json.loads(proc2.stdout)
    assert report["status"] == "succeeded"
    again = set(sandbox.stats()["downloads"])
    assert not again & durable, "re-downloaded content the killed run had stored"
    assert len(again) <= len(files) - len(durable)
    assert report["totals"]["reused"] >= len(durable)
    (snap,) = restic_snapshots(repo_env)
    nodes = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], PASSWORD, snap["id"])
    assert set(nodes) == set(files)
    for fid, f in files.items():
        assert nodes[fid][1]["box.sha1"].decode() == f.sha1
    # the killed process's lock was stale (same host, process gone): the rerun removed it, so stock
    # restic needs no `unlock` before its exclusive `check`
    assert not list(Path(repo_env["RESTIC_REPOSITORY"], "locks").iterdir())
    restic(repo_env, "check", "--read-data")
