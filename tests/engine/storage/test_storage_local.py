"""What only the local backend does: restic's on-disk layout and permissions."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from boxvault.engine.storage import LocalBackend, open_backend
from boxvault.engine.storage.base import write_parts
from boxvault.engine.storage.cached import CachedBackend, CountingBackend

ID = "ab" * 32


def test_layout_and_modes_follow_restic(tmp_path: Path) -> None:
    backend = open_backend(str(tmp_path / "repo"))
    backend.write("config", b"cfg")
    backend.write(f"data/ab/{ID}", b"pack")
    root = tmp_path / "repo"
    for directory in ("data", "index", "keys", "locks", "snapshots"):
        assert (root / directory).is_dir()
    assert sorted(p.name for p in (root / "data").iterdir()) == [f"{i:02x}" for i in range(256)]
    assert stat.S_IMODE((root / "config").stat().st_mode) == 0o400
    assert stat.S_IMODE((root / "data" / "ab" / ID).stat().st_mode) == 0o400
    assert stat.S_IMODE((root / "data" / "ab").stat().st_mode) == 0o700
    assert [p.name for p in (root / "data" / "ab").iterdir()] == [ID]  # no temporary file left


def test_group_readable_repository_stays_group_readable(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    LocalBackend(root).write("config", b"cfg")
    os.chmod(root / "config", 0o440)
    LocalBackend(root).write("snapshots/" + ID, b"s")
    assert stat.S_IMODE((root / "snapshots" / ID).stat().st_mode) == 0o440


def test_leftover_temporary_files_are_not_listed(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    backend.write(f"index/{ID}", b"i")
    (tmp_path / "index" / f".{ID}.tmp-123").write_bytes(b"partial")
    assert list(backend.list("index")) == [(f"index/{ID}", 1)]


def test_parts_are_written_in_order_across_writev_batches_and_short_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalBackend(tmp_path)
    # more parts than one writev takes, of every kind a pack holds (bytes, bytearray, views of both)
    parts: list[bytes | bytearray | memoryview] = []
    for i in range(3000):
        piece = bytes([i % 251]) * (1 + i % 97)
        parts.append(piece if i % 3 == 0 else bytearray(piece) if i % 3 == 1 else memoryview(piece))
    expected = b"".join(parts)
    backend.write_parts(f"data/ab/{ID}", parts)
    assert (tmp_path / "data" / "ab" / ID).read_bytes() == expected

    real = os.writev
    calls: list[int] = []

    def short(fd: int, buffers: list[memoryview]) -> int:
        # the kernel may write less than asked: here never more than 1,000 bytes, often mid-part
        calls.append(len(buffers))
        total = sum(b.nbytes for b in buffers)
        limit = min(total, 1000)
        kept: list[memoryview] = []
        for b in buffers:
            if limit <= 0:
                break
            kept.append(b[:limit])
            limit -= min(limit, b.nbytes)
        return real(fd, kept)

    monkeypatch.setattr(os, "writev", short)
    backend.write_parts(f"data/cd/{'cd' * 32}", parts)
    assert (tmp_path / "data" / "cd" / ("cd" * 32)).read_bytes() == expected
    assert len(calls) >= len(expected) // 1000


def test_the_wrappers_pass_a_packs_parts_on_to_the_local_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service opens its repositories through the cache and the counter: packs must still reach the
    local backend as parts (one `writev`), not joined; an index file is cached as one copy."""
    counter = CountingBackend(LocalBackend(tmp_path / "repo"))
    backend = CachedBackend(counter, tmp_path / "cache")
    real = os.writev
    calls: list[int] = []

    def counted(fd: int, buffers: list[memoryview]) -> int:
        calls.append(len(buffers))
        return real(fd, buffers)

    monkeypatch.setattr(os, "writev", counted)
    parts = [b"a" * 10, bytearray(b"b" * 20), memoryview(b"c" * 30)]
    write_parts(backend, f"data/ab/{ID}", parts)
    assert calls == [3] and counter.snapshot() == {"write data": 1}
    assert (tmp_path / "repo" / "data" / "ab" / ID).read_bytes() == b"".join(parts)
    index_id = hashlib.sha256(b"{}").hexdigest()  # the cache keeps only a file that matches its name
    write_parts(backend, f"index/{index_id}", [b"{", b"}"])
    assert (tmp_path / "cache" / "index" / index_id).read_bytes() == b"{}"
