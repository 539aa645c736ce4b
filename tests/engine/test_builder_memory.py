"""The builder's memory is bounded by the open directories, not by the snapshot's file count, when the caller
finishes each directory (post-order): 200,000 synthetic entries, measured with tracemalloc."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pytest

from boxvault.engine.builder import SnapshotBuilder
from boxvault.engine.errors import InvalidArgument
from boxvault.engine.repository import Repository
from boxvault.engine.tree import Node
from support.restic import restic, restic_json

FILES_PER_DIR = 100


def _build(repo: Repository, dirs: int, finish: bool) -> tuple[int, str]:
    """Peak traced bytes while adding dirs x FILES_PER_DIR files (one stored blob reused by all)."""
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/u"])
        with b.add_file("/u/seed.bin") as f:
            f.write(b"x" * 1000)
        assert f.result is not None
        blob = f.result.content
        gc.collect()
        tracemalloc.start()
        for d in range(dirs):
            folder = f"/u/d{d // 100:03d}/f{d:05d}"
            for i in range(FILES_PER_DIR):
                b.add_file_blobs(f"{folder}/file-{i:03d}.txt", blob, 1000)
            if finish:
                b.finish_dir(folder)
                if d % 100 == 99:
                    b.finish_dir(f"/u/d{d // 100:03d}")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak, b.commit()


def _open_dirs(b: SnapshotBuilder) -> int:
    count, stack = 0, [b._root]
    while stack:
        d = stack.pop()
        count += 1
        stack.extend(c for c in d.children.values() if not isinstance(c, Node))
    return count


@pytest.mark.slow
def test_memory_is_bounded_by_open_directories(tmp_path: Path) -> None:
    from boxvault.engine.storage import LocalBackend
    from support.restic import PASSWORD

    small = Repository.init(LocalBackend(tmp_path / "small"), PASSWORD)
    large = Repository.init(LocalBackend(tmp_path / "large"), PASSWORD)
    peak_small, _ = _build(small, 200, finish=True)  # 20,000 entries
    peak_large, snapshot = _build(large, 2000, finish=True)  # 200,000 entries
    # Holding the nodes would cost ~10x from 20,000 to 200,000 entries (measured: unfinished, 200,000
    # entries peak at over 4x the finished run); finished directories keep it flat.
    assert peak_large < 1.5 * peak_small + 2 * 2**20, (peak_small, peak_large)
    [listed] = restic_json(tmp_path / "large", "snapshots")
    assert listed["id"] == snapshot
    names = restic(tmp_path / "large", "ls", snapshot, "/u/d019/f01999").stdout
    assert "/u/d019/f01999/file-099.txt" in names
    assert "no errors were found" in restic(tmp_path / "large", "check").stdout


def test_finish_dir_keeps_only_the_node_and_refuses_late_additions(repo: Repository, repo_path: Path) -> None:
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/u"])
        b.add_file_blobs("/u/a/one.txt", [], 0)
        b.add_file_blobs("/u/a/sub/two.txt", [], 0)
        b.add_dir("/u/empty")
        assert _open_dirs(b) == 5  # root, u, a, sub, empty
        b.finish_dir("/u/a")  # its unfinished subdirectory is written with it
        b.finish_dir("/u/empty")
        assert _open_dirs(b) == 2
        with pytest.raises(InvalidArgument, match="already finished"):
            b.add_file_blobs("/u/a/late.txt", [], 0)
        with pytest.raises(InvalidArgument, match="not an open directory"):
            b.finish_dir("/u/a")
        snapshot = b.commit()
    listed = restic(repo_path, "ls", snapshot).stdout.split()
    assert {"/u/a/one.txt", "/u/a/sub/two.txt", "/u/empty"} <= set(listed)
    assert "no errors were found" in restic(repo_path, "check").stdout


def test_a_finished_directory_opens_again_for_a_late_addition(repo: Repository, repo_path: Path) -> None:
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/u"])
        b.add_file_blobs("/u/a/one.txt", [], 0)
        b.finish_dir("/u/a")

        def load(tree_id: bytes) -> list[Node]:
            w.flush()  # the finished tree may still wait in the open pack
            return repo.load_tree(tree_id)

        b.reopen_finished(load)
        b.add_file_blobs("/u/a/late.txt", [], 0)  # opens /u/a again
        assert b.remove("/u/a/one.txt")
        b.finish_dir("/u/a")
        snapshot = b.commit()
    listed = set(restic(repo_path, "ls", snapshot).stdout.split())
    assert "/u/a/late.txt" in listed and "/u/a/one.txt" not in listed
    assert "no errors were found" in restic(repo_path, "check").stdout
