"""The writer API of the Box backup: streaming files, reusing blob lists, parallel snapshots, durability."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from boxvault.engine.builder import NodeMeta
from boxvault.engine.errors import InvalidArgument
from boxvault.engine.repository import Repository
from support.restic import reopen, restic, restic_bytes, restic_json

MTIME = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def _stream(seed: int, size: int, piece: int = 100_003) -> list[bytes]:
    data = np.random.default_rng(seed).bytes(size)
    return [data[i : i + piece] for i in range(0, size, piece)]


def test_streamed_files_with_box_metadata(repo: Repository, repo_path: Path) -> None:
    meta = NodeMeta(mtime=MTIME, extended_attributes={"box.id": b"12345", "box.sha1": b"abc"})
    with repo.writer(pack_size=4 * 2**20) as w:
        b = w.snapshot(
            hostname="box-1", paths=["/jane@corp.com"], tags=["box", "user:7", "task:1"], time=MTIME
        )
        b.add_dir("/jane@corp.com/Docs", meta=NodeMeta(mtime=MTIME))
        with b.add_file("/jane@corp.com/Docs/a.bin", meta=meta) as f:
            for piece in _stream(1, 9 * 2**20 + 17):
                f.write(piece)
        assert f.result is not None and f.result.size == 9 * 2**20 + 17
        assert len(f.result.content) > 1
        with b.add_file("/jane@corp.com/Deep/Implicit/empty.txt", meta=NodeMeta(mtime=MTIME)) as e:
            pass
        assert e.result is not None and e.result.content == [] and e.result.size == 0
        snapshot_id = b.commit()

    assert "no errors were found" in restic(repo_path, "check", "--read-data").stdout
    [listed] = restic_json(repo_path, "snapshots")
    assert listed["id"] == snapshot_id
    assert listed["tags"] == ["box", "user:7", "task:1"] and listed["hostname"] == "box-1"
    assert listed["time"] == "2024-05-06T07:08:09.123456Z"
    data = restic_bytes(repo_path, "dump", snapshot_id, "/jane@corp.com/Docs/a.bin")
    assert data == b"".join(_stream(1, 9 * 2**20 + 17))

    again = reopen(repo_path)
    snap = again.find_snapshot(snapshot_id[:8])
    nodes = dict(again.walk(snap))
    node = nodes["/jane@corp.com/Docs/a.bin"]
    assert node.xattr("box.id") == b"12345" and node.mtime_dt == MTIME
    assert nodes["/jane@corp.com/Deep/Implicit"].type == "dir"
    with again.open_file(node) as reader:
        assert hashlib.sha256(reader.read()).digest() == hashlib.sha256(data).digest()


def test_reuse_blob_list_without_reading(repo: Repository, repo_path: Path) -> None:
    with repo.writer() as w:
        b = w.snapshot(hostname="box-1", paths=["/u"])
        with b.add_file("/u/f.bin") as f:
            f.write(b"x" * 3_000_000)
        first = b.commit()
    assert f.result is not None
    again = reopen(repo_path)
    assert all(again.has_blob(blob) for blob in f.result.content)
    assert not again.has_blob(hashlib.sha256(b"never stored").digest())
    with again.writer() as w:
        b = w.snapshot(hostname="box-1", paths=["/u"], parent=first)
        b.add_file_blobs("/u/f.bin", f.result.content, f.result.size, NodeMeta(mtime=MTIME))
        second = b.commit()
        assert w.stats.data_blobs == 0  # nothing new was stored
    snaps = restic_json(repo_path, "snapshots")
    assert [s["id"] for s in snaps] == [first, second] and snaps[1]["parent"] == first
    assert restic_bytes(repo_path, "dump", second, "/u/f.bin") == b"x" * 3_000_000


def test_parallel_snapshots_share_one_writer(repo: Repository, repo_path: Path) -> None:
    shared = np.random.default_rng(99).bytes(1_500_000)  # identical in every user's tree: stored once
    ids: dict[int, str] = {}
    shared_blobs: set[bytes] = set()

    with repo.writer(pack_size=2 * 2**20) as w:

        def user(n: int) -> None:
            b = w.snapshot(hostname="box-9", paths=[f"/user{n}"], tags=["box", f"user:{n}"])
            for i in range(5):
                with b.add_file(f"/user{n}/dir{i % 2}/file{i}.bin") as f:
                    f.write(np.random.default_rng(n * 100 + i).bytes(200_000 + i))
            with b.add_file(f"/user{n}/shared.bin") as f:
                f.write(shared)
            assert f.result is not None
            shared_blobs.update(f.result.content)
            ids[n] = b.commit()

        threads = [threading.Thread(target=user, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(shared_blobs) >= 2
        assert w.stats.data_blobs == 6 * 5 + len(shared_blobs)

    assert len(ids) == 6
    assert "no errors were found" in restic(repo_path, "check", "--read-data").stdout
    listed = {s["id"]: s for s in restic_json(repo_path, "snapshots")}
    assert set(listed) == set(ids.values())
    again = reopen(repo_path)
    assert len(again.list_snapshots(tags=["user:3"])) == 1
    assert again.list_snapshots(tags=["user:3"])[0].id == ids[3]
    assert again.list_snapshots(host="nope") == []


def test_checkpoint_makes_blobs_durable_without_a_snapshot(repo: Repository, repo_path: Path) -> None:
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/p"])
        with b.add_file("/p/a") as f:
            f.write(b"durable content" * 1000)
        w.checkpoint()
        assert f.result is not None
        fresh = reopen(repo_path)
        assert all(fresh.has_blob(x) for x in f.result.content)
        b.abort()
    assert restic_json(repo_path, "snapshots") == []
    assert "no errors were found" in restic(repo_path, "check").stdout


def test_builder_rejects_bad_paths_and_duplicates(repo: Repository) -> None:
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/p"])
        b.add_file_blobs("/p/a", [], 0)
        with pytest.raises(InvalidArgument):
            b.add_file_blobs("/p/a", [], 0)
        with pytest.raises(InvalidArgument):
            b.add_dir("/p/../etc")
        with pytest.raises(InvalidArgument):
            b.add_file_blobs("/p/a/under-a-file", [], 0)
        b.commit()
        with pytest.raises(InvalidArgument):
            b.commit()


def test_streaming_memory_stays_bounded(repo: Repository, repo_path: Path) -> None:
    import tracemalloc

    rng = np.random.default_rng(3)
    total = 256 * 2**20
    tracemalloc.start()
    try:
        with repo.writer(pack_size=4 * 2**20) as w:
            b = w.snapshot(hostname="h", paths=["/big"])
            with b.add_file("/big/stream.bin") as f:
                for _ in range(total // 2**20):
                    f.write(rng.bytes(2**20))
            b.commit()
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f.result is not None and f.result.size == total
    assert peak < 128 * 2**20, f"peak {peak / 2**20:.0f} MiB while streaming {total / 2**20:.0f} MiB"


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_tree_blobs_are_always_compressed(repo: Repository, repo_path: Path, mode: str) -> None:
    # restic's prune repacks any tree pack holding an uncompressed tree blob, even one that did not shrink
    repo.compression = mode
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/t"])
        b.add_dir("/t/e")  # a tiny tree ({"nodes":[]}) grows when compressed
        with b.add_file("/t/f.bin") as f:
            f.write(np.random.default_rng(5).bytes(50_000))  # incompressible data stays plain
        snapshot_id = b.commit()
    again = reopen(repo_path)
    trees = [e for e in again.load_index().entries() if e.kind == 1]
    assert len(trees) >= 3
    assert all(e.location.uncompressed_length > 0 for e in trees)
    assert f.result is not None
    assert all(again.lookup(blob).uncompressed_length == 0 for blob in f.result.content)  # type: ignore[union-attr]
    assert "no errors were found" in restic(repo_path, "check", "--read-data").stdout
    assert snapshot_id


def test_previous_tree_nodes_are_reused(repo: Repository, repo_path: Path) -> None:
    """As incremental Box runs do: a subtree node taken as is, a directory node with new children."""
    with repo.writer() as w:
        b = w.snapshot(hostname="box-1", paths=["/u"])
        b.add_dir("/u", meta=NodeMeta(mtime=MTIME))
        b.add_dir("/u/keep", meta=NodeMeta(mtime=MTIME, extended_attributes={"box.id": b"1"}))
        with b.add_file("/u/keep/a.txt") as f:
            f.write(b"a")
        b.add_dir("/u/edit", meta=NodeMeta(mtime=MTIME, extended_attributes={"box.id": b"2"}))
        with b.add_file("/u/edit/old.txt") as f:
            f.write(b"old")
        first = b.commit()
    again = reopen(repo_path)
    snap = again.find_snapshot(first)
    [user] = again.load_tree(snap.tree)
    assert user.subtree is not None
    old = {n.name: n for n in again.load_tree(user.subtree)}
    with again.writer() as w:
        b = w.snapshot(hostname="box-1", paths=["/u"], parent=first)
        b.add_dir("/u", meta=NodeMeta(mtime=MTIME))
        b.add_node("/u/keep", old["keep"])  # the whole subtree, unread
        b.add_dir_node("/u/edit", old["edit"])  # its node; children added anew
        with b.add_file("/u/edit/new.txt") as f:
            f.write(b"new")
        second = b.commit()
    nodes = dict(reopen(repo_path).walk(reopen(repo_path).find_snapshot(second)))
    assert set(nodes) >= {"/u/keep/a.txt", "/u/edit/new.txt"} and "/u/edit/old.txt" not in nodes
    assert nodes["/u/edit"].xattr("box.id") == b"2" and nodes["/u/keep"].xattr("box.id") == b"1"
    assert nodes["/u/keep"].subtree == old["keep"].subtree
    assert "no errors were found" in restic(repo_path, "check").stdout


def test_a_node_can_be_taken_back_even_inside_a_reused_directory(repo: Repository, repo_path: Path) -> None:
    """`remove` (issue 20: a Box item listed at two places while it moved keeps one): a file, a directory
    with its subtree, and a file inside a directory reused whole from the previous snapshot."""
    with repo.writer() as w:
        b = w.snapshot(hostname="box-1", paths=["/u"])
        for name in ("a", "b", "keep"):
            with b.add_file(f"/u/old/{name}.txt", meta=NodeMeta(mtime=MTIME)) as f:
                f.write(name.encode())
        first = b.commit()
    snap = repo.load_snapshot(first)
    (u,) = repo.load_tree(snap.tree)
    assert u.subtree is not None
    (old,) = repo.load_tree(u.subtree)
    with repo.writer() as w:
        b = w.snapshot(hostname="box-1", paths=["/u"], parent=first)
        b.add_node("/u/old", old)  # reused whole: nothing inside was added one by one
        b.add_node("/u/copy", repo.load_tree(u.subtree)[0])
        with b.add_file("/u/new/x.txt", meta=NodeMeta(mtime=MTIME)) as f:
            f.write(b"x")
        assert not b.remove("/u/copy/a.txt")  # inside a reused directory: only with load_tree
        assert b.remove("/u/old/a.txt", repo.load_tree)
        assert b.remove("/u/new")
        assert b.remove("/u/copy", repo.load_tree)
        assert not b.remove("/u/nothing/here.txt")
        second = b.commit()
    listed = {p for p, _ in repo.walk(repo.load_snapshot(second))}
    assert listed == {"/u", "/u/old", "/u/old/b.txt", "/u/old/keep.txt"}
    assert restic_bytes(repo_path, "dump", second, "/u/old/keep.txt") == b"keep"
    restic(repo_path, "check", "--read-data")
