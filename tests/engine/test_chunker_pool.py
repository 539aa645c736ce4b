"""The chunk buffers handed out again (engine/chunker.py `BufferPool`): only once every chunk cut from a
buffer is saved, never while one is still being read; the chunks are the same with or without the pool."""

from __future__ import annotations

import hashlib
from concurrent.futures import Future

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from boxvault.engine.chunker import BATCH, BufferPool, Chunker

DATA = np.random.default_rng(11).bytes(3 * BATCH + 12345)


def _reference() -> list[bytes]:
    out: list[bytes] = []
    chunker = Chunker(lambda view: out.append(bytes(view)))
    chunker.write(DATA)
    chunker.finish()
    return out


REFERENCE = _reference()


def _feed(chunker: Chunker, step: int) -> None:
    pos = 0
    while pos < len(DATA):
        chunker.write(DATA[pos : pos + step])
        pos += step
    chunker.finish()


def test_a_buffer_is_handed_out_again_only_once_its_chunks_are_saved() -> None:
    pool = BufferPool()
    savings: list[Future[bytes]] = []

    def emit(view: memoryview) -> Future[bytes]:
        saving: Future[bytes] = Future()
        savings.append(saving)
        return saving

    _feed(Chunker(emit, len(DATA), pool), 1 << 20)
    assert savings and pool.reused == 0  # nothing saved yet: every buffer was a new one
    fresh = pool.take()
    assert pool.reused == 0 and not any(fresh)
    for saving in savings:
        saving.set_result(b"")
    again = pool.take()
    assert pool.reused == 1 and len(again) == BATCH


def test_a_buffer_with_a_chunk_still_read_is_not_handed_out() -> None:
    """The first file's chunks are still being saved while three more files go through the pool: none of
    its buffers is handed out (its views keep their bytes), the later files' are."""
    pool = BufferPool()
    slow: Future[bytes] = Future()
    first: list[memoryview] = []
    copies: list[bytes] = []

    def pending(view: memoryview) -> Future[bytes]:
        first.append(view)
        copies.append(bytes(view))
        return slow

    def saved(view: memoryview) -> Future[bytes]:
        done: Future[bytes] = Future()
        done.set_result(b"")
        return done

    _feed(Chunker(pending, len(DATA), pool), 3 << 20)
    for _ in range(3):
        _feed(Chunker(saved, len(DATA), pool), 3 << 20)
    assert pool.reused > 0
    assert [bytes(v) for v in first] == copies
    slow.set_result(b"")


def test_an_emit_that_returns_nothing_keeps_its_buffers() -> None:
    pool = BufferPool()
    views: list[memoryview] = []
    _feed(Chunker(views.append, len(DATA), pool), 1 << 20)
    pool.take()
    assert pool.reused == 0


@settings(max_examples=10, deadline=None)
@given(st.integers(4096, 5 << 20), st.integers(0, 4 * BATCH))
def test_the_same_chunks_when_buffers_are_used_again_at_once(step: int, hint: int) -> None:
    """Every chunk saved as soon as it is cut (the pool hands buffers out as early as it may): the chunks,
    read at their emission, are those of a chunker without a pool, file after file."""
    pool = BufferPool()
    for _ in range(3):
        copies: list[bytes] = []

        def emit(view: memoryview) -> Future[bytes]:
            copies.append(bytes(view))
            done: Future[bytes] = Future()
            done.set_result(b"")
            return done

        _feed(Chunker(emit, hint, pool), step)
        assert [hashlib.sha256(c).digest() for c in copies] == [hashlib.sha256(c).digest() for c in REFERENCE]
    assert pool.reused > 0
