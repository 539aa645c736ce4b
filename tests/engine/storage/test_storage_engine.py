"""The repository engine on every object store: back up, read back, and restic verifies a copy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from boxvault.engine.localdir import backup
from boxvault.engine.repository import Repository
from boxvault.engine.storage import Backend, open_backend
from support import cli_env, require_binary

if TYPE_CHECKING:  # conftest is not importable by name when several directories have one
    from conftest import Target

PASSWORD = "engine-on-object-stores"


def _corpus(root: Path) -> dict[str, bytes]:
    files = {
        "big.bin": os.urandom(3 * 2**20),
        "same-a.txt": b"identical\n" * 1000,
        "same-b.txt": b"identical\n" * 1000,
        "empty": b"",
        "dir/ünï cødé.txt": "grüße\n".encode(),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def _restic(repo: Path, *args: str) -> str:
    env = cli_env({"RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(repo)})
    proc = subprocess.run(
        [require_binary("restic"), "--no-cache", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _copy(source: Backend, target: Backend) -> None:
    for name, _ in source.list(""):
        target.write(name, source.read(name))


def test_engine_backs_up_and_restores_on_object_store(store_target: Target, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = _corpus(src)
    backend = store_target.open()
    repo = Repository.init(backend, PASSWORD)
    with repo.writer(pack_size=2**20) as writer:  # small packs: several uploads in parallel
        snapshot_id, job = backup(repo, writer, [str(src)], hostname="storage-host", tags=["storage"])
    assert job.errors == []
    assert len([name for name, _ in backend.list("data")]) >= 2

    reopened = Repository.open(store_target.open(), PASSWORD)
    snapshot = reopened.find_snapshot(snapshot_id[:8])
    reopened.restore(snapshot, str(tmp_path / "ours"))
    for name, data in files.items():
        assert (tmp_path / "ours" / src.relative_to("/") / name).read_bytes() == data

    # restic cannot reach Azurite or the GCS emulator: it verifies a copy taken through our backends
    local = tmp_path / "copy"
    _copy(store_target.open(), open_backend(str(local)))
    assert "no errors were found" in _restic(local, "check", "--read-data")
    _restic(local, "restore", snapshot_id, "--target", str(tmp_path / "theirs"))
    for name, data in files.items():
        assert (tmp_path / "theirs" / src.relative_to("/") / name).read_bytes() == data
