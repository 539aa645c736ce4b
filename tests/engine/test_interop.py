"""boxvault <-> restic both ways, with the restic binary: check --read-data, snapshots, identical restores."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from boxvault.engine.localdir import backup
from boxvault.engine.repository import Repository
from support.restic import make_corpus, reopen, restic, restic_json, tree_digest


def _backup(repo: Repository, src: Path, tags: list[str] | None = None) -> str:
    with repo.writer() as w:
        snapshot_id, job = backup(repo, w, [str(src)], hostname="interop-host", tags=tags or [])
    assert job.errors == []
    return snapshot_id


def test_boxvault_repo_passes_restic_check_and_restores_identically(
    repo: Repository, repo_path: Path, tmp_path: Path
) -> None:
    src = make_corpus(tmp_path / "src")
    first = _backup(repo, src, ["one", "two"])
    (src / "hello.txt").write_bytes(b"changed\n")
    (src / "new file.txt").write_bytes(b"new\n")
    second = _backup(repo, src)

    check = restic(repo_path, "check", "--read-data")
    assert "no errors were found" in check.stdout

    listed = restic_json(repo_path, "snapshots")
    ours = [s.to_listing() for s in reopen(repo_path).list_snapshots()]
    assert [s["id"] for s in listed] == [first, second]
    for theirs, mine in zip(listed, ours, strict=True):
        for key in ("time", "tree", "paths", "hostname", "username", "id", "short_id"):
            assert theirs[key] == mine[key]
        assert theirs.get("tags") == mine.get("tags")
        assert theirs.get("parent") == mine.get("parent")
    assert listed[1]["parent"] == first

    out = tmp_path / "restic-out"
    restic(repo_path, "restore", second, "--target", str(out))
    assert tree_digest(out / str(src).lstrip("/")) == tree_digest(src)
    # restic also decodes what we wrote blob by blob
    tree = restic(repo_path, "cat", "blob", listed[1]["tree"]).stdout
    assert '"nodes"' in tree
    # and takes our snapshot as the parent of its own backup: our node metadata matches what it expects
    out = restic(repo_path, "backup", str(src), "--host", "interop-host").stdout
    assert f"using parent snapshot {second[:8]}" in out
    assert re.search(r"Files:\s+0 new,\s+0 changed", out), out


def test_restic_repo_is_read_and_restored_identically(tmp_path: Path) -> None:
    src = make_corpus(tmp_path / "src")
    repo_path = tmp_path / "restic-repo"
    restic(repo_path, "init")
    restic(repo_path, "backup", str(src), "--tag", "first", "--host", "h1")
    (src / "dup" / "a.bin").write_bytes(b"edited")
    restic(repo_path, "backup", str(src), "--tag", "second", "--host", "h1")
    restic(repo_path, "backup", str(src), "--tag", "third", "--host", "h1")
    restic(repo_path, "forget", "--keep-last", "2", "--prune")
    expected = tree_digest(src)

    repo = reopen(repo_path)
    theirs = restic_json(repo_path, "snapshots")
    ours = repo.list_snapshots()
    assert [s.id for s in ours] == [s["id"] for s in theirs]
    assert [s.tags for s in ours] == [["second"], ["third"]]
    assert repo.list_snapshots(tags=["third"])[0].id == theirs[-1]["id"]

    out = tmp_path / "ours"
    repo.restore(repo.find_snapshot("latest"), str(out))
    assert tree_digest(out / str(src).lstrip("/")) == expected

    # and boxvault can add to a repository restic created, which restic then accepts
    (src / "added by boxvault.txt").write_text("boxvault\n")
    _backup(repo, src)
    assert "no errors were found" in restic(repo_path, "check", "--read-data").stdout


@pytest.mark.slow
def test_file_over_64_mib_round_trips_through_restic(
    repo: Repository, repo_path: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_corpus(src / "corpus", big_size=65 * 2**20 + 12345)
    snapshot_id = _backup(repo, src)
    assert "no errors were found" in restic(repo_path, "check", "--read-data").stdout
    out = tmp_path / "out"
    restic(
        repo_path, "restore", snapshot_id, "--target", str(out), "--include", str(src / "corpus" / "big.bin")
    )
    restored = out / str(src).lstrip("/") / "corpus" / "big.bin"
    assert restored.stat().st_size == 65 * 2**20 + 12345
    assert tree_digest(restored.parent)["big.bin"] == tree_digest(src / "corpus")["big.bin"]
    _ = socket  # hostname is fixed above; restic sees exactly what we stored
