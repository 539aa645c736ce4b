"""restic's lock rules: shared locks coexist, exclusive excludes, stale locks are ignored."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from boxvault.engine import gojson
from boxvault.engine.errors import RepositoryLocked
from boxvault.engine.lock import is_stale, lock_document
from boxvault.engine.repository import Repository
from support.restic import restic


def test_shared_and_exclusive(repo: Repository, repo_path: Path) -> None:
    with repo.lock(), repo.lock():
        assert len(list((repo_path / "locks").iterdir())) == 2
        with pytest.raises(RepositoryLocked, match="shared lock"):
            repo.lock(exclusive=True).acquire()
        # restic refuses an exclusive lock while ours is held
        proc = restic(repo_path, "prune", check=False)
        assert proc.returncode != 0 and "locked" in proc.stderr
    assert list((repo_path / "locks").iterdir()) == []
    with repo.lock(exclusive=True), pytest.raises(RepositoryLocked, match="exclusive lock"):
        repo.lock().acquire()


def test_stale_rules(repo: Repository) -> None:
    fresh = lock_document(exclusive=True)
    assert not is_stale(fresh)
    old = {**fresh, "time": gojson.format_time_ns(gojson.parse_time(fresh["time"])[0] - 31 * 60 * 10**9)}
    assert is_stale(old)
    dead = {**fresh, "pid": 2**22 + 12345}  # above pid_max on Linux: no such process
    assert is_stale(dead)
    elsewhere = {**dead, "hostname": socket.gethostname() + "-other"}
    assert not is_stale(elsewhere)
    # a stale exclusive lock does not block a backup
    repo.save_json("locks", dead)
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/x"])
        b.add_file_blobs("/x/empty", [], 0)
        b.commit()


def test_refresh_replaces_the_lock_file(repo: Repository, repo_path: Path) -> None:
    with repo.lock() as lock:
        before = lock.lock_id
        lock.refresh()
        assert lock.lock_id != before
        assert [p.name for p in (repo_path / "locks").iterdir()] == [lock.lock_id]


def test_a_dead_backups_lock_is_removed_so_restic_can_lock_again(repo: Repository, repo_path: Path) -> None:
    dead = {**lock_document(exclusive=False), "pid": 2**22 + 54321}
    repo.save_json("locks", dead)
    assert restic(repo_path, "check", check=False).returncode != 0  # restic 0.14 refuses: needs `unlock`
    with repo.lock():
        pass
    assert list((repo_path / "locks").iterdir()) == []
    assert "no errors were found" in restic(repo_path, "check").stdout
