"""Reading back: chunk boundaries independent of how a stream is fed, file streams, includes, keys."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boxvault.engine.chunker import MAX_SIZE, MIN_SIZE, Chunker
from boxvault.engine.errors import EngineError, WrongPassword
from boxvault.engine.keymgmt import add_key, change_password, list_keys, remove_key
from boxvault.engine.localdir import backup
from boxvault.engine.repository import Repository
from support.restic import make_corpus, reopen, restic, tree_digest

DATA = np.random.default_rng(5).bytes(20 * 2**20 + 777)


def _chunks(pieces: list[int]) -> list[bytes]:
    out: list[bytes] = []
    chunker = Chunker(lambda view: out.append(bytes(view)))
    pos = 0
    for size in pieces:
        chunker.write(DATA[pos : pos + size])
        pos += size
    chunker.write(DATA[pos:])
    chunker.finish()
    return out


REFERENCE = _chunks([len(DATA)])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 6 * 2**20), max_size=12))
def test_chunks_do_not_depend_on_how_the_stream_is_cut(pieces: list[int]) -> None:
    chunks = _chunks(pieces)
    assert b"".join(chunks) == DATA
    assert [hashlib.sha256(c).digest() for c in chunks] == [hashlib.sha256(c).digest() for c in REFERENCE]
    assert all(MIN_SIZE <= len(c) <= MAX_SIZE for c in chunks[:-1])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(4096, 3 * 2**20), min_size=1, max_size=40), st.integers(0, 24 * 2**20))
def test_chunks_do_not_depend_on_the_reads_or_the_size_hint(reads: list[int], hint: int) -> None:
    """`fill` as a socket feeds it (reads of any size, a size hint that may be wrong): the same chunks, and no
    emitted chunk changes afterwards (the views stay valid while the buffer grows or moves on)."""
    views: list[memoryview] = []
    copies: list[bytes] = []

    def emit(view: memoryview) -> None:
        views.append(view)
        copies.append(bytes(view))

    chunker = Chunker(emit, hint)
    pos = 0
    i = 0
    while True:
        want = reads[i % len(reads)]
        i += 1

        def read(buf: memoryview) -> int:
            n = min(want, len(buf), len(DATA) - pos)
            buf[:n] = DATA[pos : pos + n]
            return n

        n = chunker.fill(read)
        if not n:
            break
        pos += n
    chunker.finish()
    assert [bytes(v) for v in views] == copies
    assert [hashlib.sha256(c).digest() for c in copies] == [hashlib.sha256(c).digest() for c in REFERENCE]


def test_iter_files_streams_and_include(repo: Repository, repo_path: Path, tmp_path: Path) -> None:
    src = make_corpus(tmp_path / "src")
    with repo.writer() as w:
        snapshot_id, _ = backup(repo, w, [str(src)], hostname="h", tags=[])
    snap = repo.find_snapshot(snapshot_id)
    expected = tree_digest(src, with_mtime=False)
    seen = 0
    for path, node, reader in repo.iter_files(snap):
        rel = path[len(str(src)) + 1 :]
        with reader:
            digest = hashlib.sha256(b"".join(reader.iter_blobs())).hexdigest()
        assert expected[rel][1] == digest and node.size == src.joinpath(rel).stat().st_size
        seen += 1
    assert seen == sum(1 for v in expected.values() if v[0] == "file")
    only = [p for p, _, _ in repo.iter_files(snap, include=[f"{src}/dup"])]
    assert sorted(only) == [f"{src}/dup/a.bin", f"{src}/dup/b.bin", f"{src}/dup/sub/c.bin"]
    out = tmp_path / "out"
    repo.restore(snap, str(out), include=[f"{src}/Ünïcødé", f"{src}/link-to-hello"])
    restored = out / str(src).lstrip("/")
    assert sorted(p.name for p in restored.iterdir()) == ["link-to-hello", "Ünïcødé"]
    assert (restored / "link-to-hello").is_symlink()


def test_key_add_passwd_remove(repo: Repository, repo_path: Path) -> None:
    second = add_key(repo, "second password")
    assert len(list_keys(repo)) == 2
    restic(repo_path, "snapshots", password="second password")
    other = reopen(repo_path, "second password")
    assert other.key_id == second and other.key == repo.key
    with pytest.raises(EngineError, match="currently used"):
        remove_key(other, second[:8])
    new_id = change_password(other, "third password")
    assert {k.id for k in list_keys(repo)} == {repo.key_id, new_id}
    with pytest.raises(WrongPassword):
        reopen(repo_path, "second password")
    remove_key(other, repo.key_id[:10])
    assert [k.id for k in list_keys(other)] == [new_id]
    restic(repo_path, "check", password="third password")


def test_restore_over_existing_files_leaves_no_stale_bytes(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_bytes(b"short")
    with repo.writer() as w:
        snapshot_id, _ = backup(repo, w, [str(src)], hostname="h", tags=[])
    out = tmp_path / "out"
    restored = out / str(src).lstrip("/") / "f.txt"
    restored.parent.mkdir(parents=True)
    restored.write_bytes(b"a much longer previous content")
    repo.restore(repo.find_snapshot(snapshot_id), str(out))
    assert restored.read_bytes() == b"short"


def test_file_reader_prefetch_keeps_order_and_stops_on_close(repo: Repository, tmp_path: Path) -> None:
    """A file of ~20 blobs read through `FileReader` (several blobs fetched ahead) in odd-sized reads,
    whole, and closed half-way."""
    import io

    src = tmp_path / "big"
    src.mkdir()
    (src / "data.bin").write_bytes(DATA)
    with repo.writer() as w:
        snapshot_id, _ = backup(repo, w, [str(src)], hostname="h", tags=[])
    snap = repo.find_snapshot(snapshot_id)
    (node,) = [n for _, n in repo.walk(snap) if n.type == "file"]
    assert len(node.content or []) > 2 * repo.open_file(node).AHEAD  # more blobs than the window

    reader = repo.open_file(node)
    got = bytearray()
    buf = memoryview(bytearray(777_777))
    while n := reader.readinto(buf):
        got += buf[:n]
    reader.close()
    assert bytes(got) == DATA

    with io.BufferedReader(repo.open_file(node), 2**20) as whole:
        assert hashlib.sha256(whole.read()).digest() == hashlib.sha256(DATA).digest()

    half = repo.open_file(node)
    first = half.read(3 * 2**20)  # a raw read: at most the rest of the current blob
    assert first and first == DATA[: len(first)]
    half.close()  # the blobs fetched ahead are let go
    assert half.closed
