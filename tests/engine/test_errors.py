"""Bad input gives a clear error naming the object, in the API and (without a traceback) in the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from boxvault.engine import gojson
from boxvault.engine.check import check
from boxvault.engine.errors import (
    CorruptObject,
    EngineError,
    NotARepository,
    SnapshotNotFound,
    UnsupportedVersion,
    WrongPassword,
)
from boxvault.engine.reader import RestoreIncomplete
from boxvault.engine.repository import Repository
from boxvault.engine.storage import LocalBackend
from support import run_cli
from support.restic import PASSWORD, reopen


def _with_snapshot(repo: Repository) -> tuple[str, list[bytes]]:
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/p"])
        with b.add_file("/p/file.bin") as f:
            f.write(os.urandom(1_200_000))
        with b.add_file("/p/other.txt") as g:
            g.write(b"undamaged\n")
        snapshot_id = b.commit()
    assert f.result is not None
    return snapshot_id, f.result.content


def _packs(repo_path: Path) -> list[Path]:
    return sorted(p for p in (repo_path / "data").rglob("*") if p.is_file())


def _writable(p: Path) -> None:
    os.chmod(p, 0o600)


def test_wrong_password_and_not_a_repository(repo: Repository, repo_path: Path, tmp_path: Path) -> None:
    with pytest.raises(WrongPassword, match=str(repo_path)):
        reopen(repo_path, "wrong")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotARepository, match="empty"):
        reopen(tmp_path / "empty")


def test_unknown_version(repo: Repository, repo_path: Path) -> None:
    config = repo_path / "config"
    _writable(config)
    config.write_bytes(
        bytes(repo.key.encrypt_data(gojson.dumps_bytes({**repo.config.to_json(), "version": 3})))
    )
    with pytest.raises(UnsupportedVersion, match="3"):
        reopen(repo_path)


def test_missing_and_corrupt_pack(repo: Repository, repo_path: Path, tmp_path: Path) -> None:
    snapshot_id, content = _with_snapshot(repo)
    loc = reopen(repo_path).lookup(content[0])
    assert loc is not None
    data_pack = repo_path / "data" / loc.pack_id.hex()[:2] / loc.pack_id.hex()
    _writable(data_pack)
    raw = bytearray(data_pack.read_bytes())
    raw[loc.offset + 40] ^= 0xFF
    data_pack.write_bytes(bytes(raw))
    fresh = reopen(repo_path)
    snap = fresh.find_snapshot(snapshot_id)
    with pytest.raises(RestoreIncomplete, match=data_pack.name) as damaged:
        fresh.restore(snap, str(tmp_path / "out1"))
    assert [path for path, _ in damaged.value.failed] == ["/p/file.bin"]
    assert (tmp_path / "out1" / "p" / "other.txt").read_bytes() == b"undamaged\n"
    with pytest.raises(CorruptObject, match=data_pack.name):
        fresh.load_blob(content[0])
    data_pack.unlink()
    with pytest.raises(RestoreIncomplete, match=f"data/{data_pack.name[:2]}/{data_pack.name}") as missing:
        reopen(repo_path).restore(snap, str(tmp_path / "out2"))
    assert "/p/file.bin" in [path for path, _ in missing.value.failed]


def test_truncated_index_and_damaged_snapshot(repo: Repository, repo_path: Path) -> None:
    snapshot_id, _ = _with_snapshot(repo)
    index_file = next((repo_path / "index").iterdir())
    _writable(index_file)
    index_file.write_bytes(index_file.read_bytes()[:-10])
    with pytest.raises(CorruptObject, match=f"index/{index_file.name}"):
        reopen(repo_path).load_json("index", index_file.name)
    snap_file = repo_path / "snapshots" / snapshot_id
    _writable(snap_file)
    snap_file.write_bytes(b"garbage")
    with pytest.raises(CorruptObject, match=f"snapshots/{snapshot_id}"):
        reopen(repo_path).list_snapshots()
    with pytest.raises(SnapshotNotFound):
        reopen(repo_path).find_snapshot("0123456789")


def test_cli_errors_are_one_line_without_traceback(repo: Repository, repo_path: Path, tmp_path: Path) -> None:
    env = {"RESTIC_PASSWORD": "wrong", "RESTIC_REPOSITORY": str(repo_path)}
    proc = run_cli(["repo", "snapshots"], env=env, check=False)
    assert proc.returncode != 0 and "wrong password" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["repo", "-r", str(tmp_path / "nothing"), "snapshots"], env={"RESTIC_PASSWORD": PASSWORD},
                   check=False)  # fmt: skip
    assert (
        proc.returncode != 0 and "not a restic repository" in proc.stderr and "Traceback" not in proc.stderr
    )
    env["RESTIC_PASSWORD"] = PASSWORD
    proc = run_cli(["repo", "restore", "feedbeef", "--target", str(tmp_path / "t")], env=env, check=False)
    assert proc.returncode != 0 and "feedbeef" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["repo", "backup", str(tmp_path / "does-not-exist")], env=env, check=False)
    assert proc.returncode != 0 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    env.pop("RESTIC_PASSWORD")
    proc = run_cli(
        ["repo", "snapshots"], env={**env, "RESTIC_PASSWORD_FILE": str(tmp_path / "nope")}, check=False
    )
    assert proc.returncode != 0 and "password file" in proc.stderr and "Traceback" not in proc.stderr
    assert isinstance(LocalBackend(repo_path), LocalBackend)


def test_damaged_index_is_skipped_for_reading_but_check_reports_it(
    repo: Repository, repo_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, _ = _with_snapshot(repo)
    first_index = {p.name for p in (repo_path / "index").iterdir()}
    with reopen(repo_path).writer() as w:  # a second session: its own packs and index file
        b = w.snapshot(hostname="h", paths=["/q"])
        with b.add_file("/q/kept.txt") as f:
            f.write(b"indexed elsewhere\n")
        second = b.commit()
    [damaged] = first_index
    index_file = repo_path / "index" / damaged
    _writable(index_file)
    index_file.write_bytes(index_file.read_bytes()[:-10])

    fresh = reopen(repo_path)
    with caplog.at_level("WARNING", logger="boxvault.engine"):
        fresh.restore(fresh.find_snapshot(second), str(tmp_path / "out"))
    assert (tmp_path / "out" / "q" / "kept.txt").read_bytes() == b"indexed elsewhere\n"
    assert f"index/{damaged}" in caplog.text
    assert [file_id for file_id, _ in fresh.skipped_index_files] == [damaged]
    with pytest.raises(EngineError):  # the first snapshot's trees were only in the damaged index
        fresh.restore(fresh.find_snapshot(first), str(tmp_path / "out1"))

    report = check(reopen(repo_path))
    assert not report.ok
    assert any(damaged in error for error in report.errors)
