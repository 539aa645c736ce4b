"""Immutable backups: S3 object lock on moto server. prune, forget and erasure's rewrite refuse while
anything they would delete is locked (naming the date, changing nothing) and proceed once the lock expired."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from boxvault.engine.forget import ExpirePolicy
from boxvault.engine.forget_run import forget
from boxvault.engine.localdir import backup
from boxvault.engine.prune import prune
from boxvault.engine.repository import Repository
from boxvault.engine.rewrite import rewrite
from boxvault.engine.storage import Backend, StorageError, open_backend
from boxvault.engine.storage.objectlock import ObjectLocked, lock_policy
from support import cli_env, require_binary
from support.emulators import Emulator

PASSWORD = "object-lock"
DAYS = 30
MODE = "BOXVAULT_S3_OBJECT_LOCK_MODE"
DAYS_VAR = "BOXVAULT_S3_OBJECT_LOCK_DAYS"


def _open(s3: Emulator, location: str) -> Any:
    env = {**s3.env, MODE: "compliance", DAYS_VAR: str(DAYS)}
    return open_backend(location, env)


def _repo_with_two_snapshots(backend: Any, tmp_path: Path) -> tuple[Repository, str, str]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "keep.txt").write_bytes(b"kept\n" * 100)
    (src / "secret.txt").write_bytes(os.urandom(200_000))
    repo = Repository.init(backend, PASSWORD)
    with repo.writer() as writer:
        first, _ = backup(repo, writer, [str(src)], hostname="h", tags=[])
    (src / "secret.txt").unlink()
    with repo.writer() as writer:
        second, _ = backup(repo, writer, [str(src)], hostname="h", tags=[])
    return repo, first, second


def _names(backend: Backend) -> set[str]:
    return {name for name, _ in backend.list("")}


def _restic_check(backend: Backend, tmp_path: Path) -> None:
    # restic cannot sign for moto's versioned bucket here: it checks a copy taken through our backend
    local = tmp_path / f"copy-{uuid.uuid4().hex[:6]}"
    target = open_backend(str(local))
    for name, _ in backend.list(""):
        target.write(name, backend.read(name))
    env = cli_env({"RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(local)})
    proc = subprocess.run(
        [require_binary("restic"), "--no-cache", "check", "--read-data"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def locked_location(s3_emulator: Emulator) -> str:
    access = s3_emulator.create_bucket(f"lock-{uuid.uuid4().hex[:10]}", object_lock=True)
    return access.location("repo")


def test_writes_carry_retain_until(s3_emulator: Emulator, locked_location: str, tmp_path: Path) -> None:
    backend = _open(s3_emulator, locked_location)
    repo, first, _ = _repo_with_two_snapshots(backend, tmp_path)
    locked = backend.locked_until(sorted(_names(backend)))
    assert f"snapshots/{first}" in locked
    assert any(name.startswith("data/") for name in locked)
    # index files are derived (and replaced by every prune): not locked, see objectlock.py
    assert not any(name.startswith(("index/", "keys/", "locks/", "config")) for name in locked)
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=DAYS)
    assert abs((locked[f"snapshots/{first}"] - expected).total_seconds()) < 600


def test_prune_forget_and_rewrite_refuse_while_locked(
    s3_emulator: Emulator, locked_location: str, tmp_path: Path
) -> None:
    backend = _open(s3_emulator, locked_location)
    repo, first, second = _repo_with_two_snapshots(backend, tmp_path)
    before = _names(backend)

    with pytest.raises(ObjectLocked) as refused:
        forget(repo, ExpirePolicy(), snapshot_ids=[first])
    assert refused.value.until > dt.datetime.now(dt.UTC) + dt.timedelta(days=DAYS - 1)
    assert "cannot be deleted before" in str(refused.value)
    assert refused.value.until.date().isoformat() in str(refused.value)

    with pytest.raises(ObjectLocked):
        rewrite(repo, ["/**/secret.txt"], forget=True)

    # prune with the first snapshot ignored: its packs and the index files would go
    with pytest.raises(ObjectLocked) as pruned:
        prune(repo, ignore_snapshots={first}, max_unused="0")
    assert all(name.startswith("data/") for name in pruned.value.names)

    # nothing half-deleted, nothing half-written
    assert _names(backend) == before
    assert {s.id for s in Repository.open(backend, PASSWORD).list_snapshots()} == {first, second}
    _restic_check(backend, tmp_path)


def test_prune_forget_and_rewrite_proceed_after_expiry(
    s3_emulator: Emulator, locked_location: str, tmp_path: Path
) -> None:
    backend = _open(s3_emulator, locked_location)
    # written "DAYS + 1 days ago" (moto accepts the past date), so every lock has expired by now
    backend.lock.clock = lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=DAYS + 1)
    repo, first, second = _repo_with_two_snapshots(backend, tmp_path)
    backend.lock.clock = lambda: dt.datetime.now(dt.UTC)
    assert backend.locked_until(sorted(_names(backend))) == {}

    changed = rewrite(repo, ["/**/secret.txt"], forget=True)
    assert [c.old_id for c in changed.changed] == [first]
    result = prune(repo, max_unused="0")
    assert result.deleted_packs
    gone = f"data/{result.deleted_packs[0][:2]}/{result.deleted_packs[0]}"
    assert gone not in _names(backend)
    # the bytes left the bucket: no version of the key is kept behind a delete marker
    assert backend.lock._versions(gone) == []
    assert backend.lock._versions(f"snapshots/{first}") == []
    _restic_check(backend, tmp_path)
    assert second in {s.id for s in Repository.open(backend, PASSWORD).list_snapshots()}


@pytest.mark.parametrize(
    ("env", "kind", "message"),
    [
        (
            {MODE: "strict", DAYS_VAR: "3"},
            "s3",
            "compliance or",
        ),
        ({MODE: "governance", DAYS_VAR: "0"}, "s3", ">= 1"),
        ({MODE: "governance"}, "s3", ">= 1"),
        ({MODE: "governance", DAYS_VAR: "x"}, "s3", ">= 1"),
        ({MODE: "compliance", DAYS_VAR: "3"}, "gs", "S3"),
    ],
)
def test_bad_lock_settings_are_refused(env: dict[str, str], kind: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        lock_policy(env, kind)


def test_no_lock_without_settings() -> None:
    assert lock_policy({}, "s3") is None
    policy = lock_policy({MODE: "Governance", DAYS_VAR: "7"}, "s3")
    assert policy is not None and (policy.mode, policy.days) == ("governance", 7)


def test_rewrite_needs_only_the_changed_snapshots_unlocked(
    s3_emulator: Emulator, locked_location: str, tmp_path: Path
) -> None:
    backend = _open(s3_emulator, locked_location)
    # the snapshot holding the file is old (its lock expired); the newer one, without it, is still locked
    backend.lock.clock = lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=DAYS + 1)
    src = tmp_path / "src"
    src.mkdir()
    (src / "keep.txt").write_bytes(b"kept\n")
    (src / "secret.txt").write_bytes(os.urandom(50_000))
    repo = Repository.init(backend, PASSWORD)
    with repo.writer() as writer:
        old, _ = backup(repo, writer, [str(src)], hostname="h", tags=[])
    backend.lock.clock = lambda: dt.datetime.now(dt.UTC)
    (src / "secret.txt").unlink()
    with repo.writer() as writer:
        new, _ = backup(repo, writer, [str(src)], hostname="h", tags=[])
    assert set(backend.locked_until([f"snapshots/{old}", f"snapshots/{new}"])) == {f"snapshots/{new}"}

    result = rewrite(repo, ["/**/secret.txt"], forget=True)
    assert [c.old_id for c in result.changed] == [old] and result.unchanged == [new]
    prune(repo, max_unused="0")
    _restic_check(backend, tmp_path)


def test_bucket_without_object_lock_is_reported(s3_emulator: Emulator, tmp_path: Path) -> None:
    # the operator requires object lock but the bucket has none: the first locked write fails, saying so
    backend = _open(s3_emulator, s3_emulator.location(f"nolock-{uuid.uuid4().hex[:8]}"))
    with pytest.raises(StorageError, match="object lock") as failed:
        backend.write("snapshots/" + "0" * 64, b"{}")
    assert "Traceback" not in str(failed.value)
    assert not backend.exists("snapshots/" + "0" * 64)
