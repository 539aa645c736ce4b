"""Maintenance on an object store (moto server, S3): forget + prune, rewrite + prune, check; restic judges."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from support import require_binary, run_cli
from support.emulators import moto_s3
from support.restic import tree_digest

PASSWORD = "s3-maint-password"


def _restic(location: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    full.update(env, RESTIC_REPOSITORY=location, RESTIC_PASSWORD=PASSWORD)
    proc = subprocess.run(
        ["restic", "--no-cache", *args], env=full, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"restic {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc


def test_forget_prune_rewrite_check_on_s3(tmp_path: Path) -> None:
    require_binary("restic")
    src = tmp_path / "src"
    (src / "docs").mkdir(parents=True)
    for i in range(6):
        (src / "docs" / f"f{i}.bin").write_bytes(os.urandom(300_000))
    (src / "secret.txt").write_bytes(b"personal data " * 100)
    with moto_s3() as s3:
        location = s3.location("maint")
        env = {**s3.env, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": location}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return run_cli(["repo", *args], env=env)

        cli("init")
        cli("backup", "--pack-size", "1", str(src))
        (src / "docs" / "f0.bin").write_bytes(os.urandom(300_000))
        cli("backup", "--pack-size", "1", str(src))

        groups = json.loads(cli("forget", "--keep-last", "1", "--prune", "--json").stdout)
        assert len(groups[0]["remove"]) == 1
        rewritten = json.loads(cli("rewrite", "-e", "secret.txt", "--forget", "--prune", "--json").stdout)
        assert rewritten["changed"][0]["removed"] == [str(src / "secret.txt")]
        assert rewritten["prune"]["deleted_packs"] >= 1

        report = json.loads(cli("check", "--read-data", "--json").stdout)
        assert report["ok"] and report["packs_read"] == report["packs"] > 0
        assert "no errors were found" in _restic(location, s3.env, "check", "--read-data").stdout
        out = tmp_path / "out"
        _restic(location, s3.env, "restore", "latest", "--target", str(out))
        (src / "secret.txt").unlink()
        assert tree_digest(out / str(src).lstrip("/")) == tree_digest(src)
