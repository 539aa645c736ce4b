"""Faults injected by the sandbox (429 with Retry-After, 5xx, connections cut mid-download, an expired
token): the backup completes with every item, and its summary counts the retries."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from boxcheck import (
    PASSWORD,
    Sandbox,
    file_sha1,
    restic,
    restic_snapshots,
    sdk_client,
    sdk_files,
    snapshot_nodes,
)

from support import boxvault_cmd, cli_env, require_binary, wait_for

pytestmark = pytest.mark.slow


def test_backup_survives_faults(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str], tmp_path: Path
) -> None:
    require_binary("restic")
    sandbox = box_sandbox(users=2, files_per_user=120, large_files=0, seed=3)
    creds = sandbox.creds
    sandbox.reset_stats()
    sandbox.set_faults(
        seed=11,
        error_rates={"429": 0.10, "500": 0.01, "502": 0.01, "503": 0.01},
        reset_rate=0.01,
        reset_next=2,
        retry_after=1,
    )
    cmd = boxvault_cmd(
        "box",
        "backup",
        *sandbox.cli_args(),
        "--json",
        "--init",
        "--rate-per-user",
        "0",
        "--retry-base",
        "0.05",
        "--workers",
        "6",
        "--list-workers",
        "4",
    )
    proc = subprocess.Popen(
        cmd, env=cli_env(repo_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # one forced token expiry in the middle of the run
    wait_for(lambda: len(sandbox.stats()["downloads"]) >= 20 or proc.poll() is not None, 120, "downloads")
    sandbox.call("POST", "/_sandbox/tokens/expire", {})
    out, err = proc.communicate(timeout=300)
    sandbox.clear_faults()
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["status"] == "succeeded", json.dumps(report)[:2000]
    stats = sandbox.stats()
    retries = report["requests"]["retries"]
    served = stats["requests_by_status"]
    # every error the server sent was retried, and counted as such
    assert served.get("429", 0) > 0 and retries.get("429") == served["429"]
    assert retries.get("5xx") == sum(served.get(s, 0) for s in ("500", "502", "503")) > 0
    assert served.get("401", 0) >= 1 and retries.get("401") == served["401"]
    assert retries.get("reset", 0) >= 2  # cut bodies resumed
    assert report["requests"]["retries_total"] == sum(retries.values())

    snaps = {next(t[5:] for t in s["tags"] if t.startswith("user:")): s for s in restic_snapshots(repo_env)}
    assert set(snaps) == {u["box_user_id"] for u in report["users"]}
    for uid, snap in snaps.items():
        files = sdk_files(sdk_client(sandbox.url, creds, uid))
        nodes = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], PASSWORD, snap["id"])
        assert set(nodes) == set(files)
        target = tmp_path / uid
        restic(repo_env, "restore", snap["id"], "--target", str(target))
        for fid, f in files.items():
            assert file_sha1(target / nodes[fid][0].lstrip("/")) == f.sha1
    restic(repo_env, "check", "--read-data")
