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


@pytest.mark.parametrize("proxy_env", [False, True], ids=["pool", "requests"])
def test_cut_download_resumes_when_the_server_ignores_range(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str], tmp_path: Path, proxy_env: bool
) -> None:
    """A body cut half-way is asked for again from the byte reached; a server that answers that Range
    request with the whole body (200) must not make the file's start appear twice. Both ways a download
    goes: on the adapter's pool, and through `requests` when proxies are configured (here a proxy that
    NO_PROXY exempts the sandbox from, so nothing reaches port 9)."""
    require_binary("restic")
    sandbox = box_sandbox(users=1, files_per_user=12, large_files=0, seed=5)
    uid = sandbox.creds["users"][0]["id"]
    sandbox.set_faults(reset_next=3, ignore_range_next=3, paths=["/dl/"])
    proc = subprocess.run(
        boxvault_cmd(
            "box", "backup", *sandbox.cli_args(), "--json", "--init", "--rate-per-user", "0", "--user", uid
        ),
        env=cli_env(
            {**repo_env, "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}
            if proxy_env
            else repo_env
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    faults = sandbox.call("GET", "/_sandbox/faults")
    sandbox.clear_faults()
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "succeeded", json.dumps(report)[:2000]
    assert report["requests"]["retries"].get("reset", 0) >= 3
    assert report["requests"]["retries"].get("sha1", 0) == 0  # resumed right, not fetched again whole
    assert faults["reset_next"] == 0 and faults["ignore_range_next"] == 0  # both faults were met

    (snap,) = restic_snapshots(repo_env)
    files = sdk_files(sdk_client(sandbox.url, sandbox.creds, uid))
    nodes = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], PASSWORD, snap["id"])
    assert set(nodes) == set(files)
    restic(repo_env, "restore", snap["id"], "--target", str(tmp_path / "r"))
    for fid, f in files.items():
        assert file_sha1(tmp_path / "r" / nodes[fid][0].lstrip("/")) == f.sha1
