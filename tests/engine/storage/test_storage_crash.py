"""kill -9 in the middle of local writes: no partial object is ever visible, and restic ignores the debris."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import time
from pathlib import Path

from boxvault.engine.storage import LocalBackend
from support import cli_env, require_binary

WRITER = """
import hashlib, os, sys
from boxvault.engine.storage import LocalBackend, data_name
backend = LocalBackend(sys.argv[1])
print("ready", flush=True)
for i in range(10_000):
    data = os.urandom(3 * 2**20 + i)
    backend.write(data_name(hashlib.sha256(data).hexdigest()), data)
"""


def test_killed_writer_leaves_only_complete_objects(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    rounds = 3
    for _ in range(rounds):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(repo)], stdout=subprocess.PIPE, text=True, env=cli_env()
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(random.uniform(0.2, 0.8))
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    listed = list(LocalBackend(repo).list("data"))
    assert listed, "the writer never finished one object"
    backend = LocalBackend(repo)
    for name, size in listed:
        data = backend.read(name)
        assert len(data) == size
        assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1], f"partial or corrupt object {name}"
    # the debris is only our hidden temporary files, which listings skip (and restic ignores)
    visible = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert {n for n, _ in listed} == {v for v in visible if not Path(v).name.startswith(".")}


def test_restic_ignores_leftover_temporary_files(tmp_path: Path) -> None:

    restic = require_binary("restic")
    repo, files = tmp_path / "repo", tmp_path / "files"
    files.mkdir()
    (files / "f.txt").write_text("content")
    env = cli_env({"RESTIC_PASSWORD": "pw", "RESTIC_REPOSITORY": str(repo)})
    for args in (["init"], ["backup", str(files)]):
        subprocess.run([restic, "-q", *args], env=env, check=True, capture_output=True)
    for directory in ("data/ab", "index", "keys", "snapshots", "locks"):
        (repo / directory / f".{'ab' * 32}.tmp-0123456789ab").write_bytes(b"partial write")
    check = subprocess.run([restic, "check", "--read-data"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no errors were found" in check.stdout
    snapshots = subprocess.run([restic, "snapshots", "--json"], env=env, capture_output=True, text=True)
    assert snapshots.returncode == 0 and '"paths"' in snapshots.stdout
