"""The restic binary and boxvault's backends agree on every object of a repository, locally and on S3."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from boxvault.engine.storage import Backend, open_backend
from support import require_binary
from support.emulators import Emulator


def restic(*args: str, repo: str, env: dict[str, str]) -> str:
    binary = require_binary("restic")
    run_env = {**os.environ, **env, "RESTIC_PASSWORD": "storage-test", "RESTIC_REPOSITORY": repo}
    proc = subprocess.run(
        [binary, "--no-cache", *args], env=run_env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"restic {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def copy(source: Backend, target: Backend) -> int:
    count = 0
    for name, size in source.list(""):
        data = source.read(name)
        assert len(data) == size
        target.write(name, data)
        count += 1
    return count


def test_repository_copied_through_backends_passes_restic_check(
    s3_emulator: Emulator, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    (files / "sub").mkdir(parents=True)
    (files / "a.bin").write_bytes(os.urandom(2**20))
    (files / "sub" / "ünïcode.txt").write_text("hello " * 1000)
    s3_first, s3_second = s3_emulator.location("restic-first"), s3_emulator.location("restic-second")
    env = s3_emulator.env
    restic("init", repo=s3_first, env=env)
    restic("backup", str(files), repo=s3_first, env=env)

    local = tmp_path / "local-copy"
    copied = copy(open_backend(s3_first, env), open_backend(str(local)))
    assert copied >= 5  # config, key, index, snapshot, data packs
    restic("check", "--read-data", repo=str(local), env={})
    copy(open_backend(str(local)), open_backend(s3_second, env))
    assert "no errors were found" in restic("check", "--read-data", repo=s3_second, env=env)

    restic("restore", "latest", "--target", str(tmp_path / "restored"), repo=s3_second, env=env)
    restored = tmp_path / "restored" / files.relative_to("/")
    assert (restored / "a.bin").read_bytes() == (files / "a.bin").read_bytes()
    assert (restored / "sub" / "ünïcode.txt").read_text() == "hello " * 1000
