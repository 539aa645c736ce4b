"""The backup pipeline's lazy file nodes and the restore's bounded reads (issue 16), at unit level."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from boxvault.engine.builder import _PendingFile
from boxvault.engine.index import BlobLocation
from boxvault.engine.reader import _SPAN_MAX, _BlobJob, _spans
from boxvault.engine.repository import Repository


def _job(offset: int, length: int) -> _BlobJob:
    return _BlobJob(bytes(32), BlobLocation(b"p" * 32, offset, length, 0), [])


def test_restore_reads_are_bounded_and_holes_split_them() -> None:
    mib = 1024 * 1024
    # 16 blobs of 1 MiB back to back: a whole pack is no longer one read
    groups = list(_spans([_job(i * mib, mib) for i in range(16)]))
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert all(g[-1].location.offset + mib - g[0].location.offset <= _SPAN_MAX for g in groups)
    # a blob larger than the bound is read on its own, whole
    assert [len(g) for g in _spans([_job(0, 100), _job(100, 6 * mib), _job(6 * mib + 100, 100)])] == [1, 1, 1]
    # a hole wider than the gap splits as before
    assert [len(g) for g in _spans([_job(0, 100), _job(3 * mib, 100)])] == [1, 1]


def test_a_file_node_gets_its_ids_when_its_tree_is_written(repo: Repository) -> None:
    gate = threading.Event()
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/u"])
        with b.add_file("/u/a.txt") as f:
            f.write(b"hello " * 1000)
        assert f.result is not None and len(f.result.content) == 1 and f.result.size == 6000

        # a pending node waits for its blobs only when its directory's tree is written
        late: Future[bytes] = Future()
        node = b.add_file_pending("/u/b.txt", [late], 3, None)
        assert isinstance(node, _PendingFile) and node.content is None

        def finish() -> None:
            gate.wait(5)
            late.set_result(f.result.content[0])

        threading.Thread(target=finish).start()
        gate.set()
        b.finish_dir("/u")
        assert node.content == f.result.content
        b.commit()


def test_a_failed_save_surfaces_from_the_result(repo: Repository) -> None:
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/u"])
        failed: Future[bytes] = Future()
        failed.set_exception(OSError("disk full"))
        b.add_file_pending("/u/c.txt", [failed], 1, None)
        with pytest.raises(OSError, match="disk full"):
            b.finish_dir("/u")
        b.abort()


def test_a_file_whose_save_failed_leaves_the_snapshot_when_its_result_is_asked(repo: Repository) -> None:
    with repo.writer() as w:
        b = w.snapshot(hostname="h", paths=["/u"])
        f = b.add_file("/u/d.txt")
        failed: Future[bytes] = Future()
        failed.set_exception(OSError("disk full"))
        f._futures = [failed]
        f.close()
        with pytest.raises(OSError, match="disk full"):
            _ = f.result
        b.add_file_blobs("/u/e.txt", [], 0)
        b.finish_dir("/u")  # d.txt is gone: nothing left to fail
        b.abort()
