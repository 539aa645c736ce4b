"""Content-defined chunking with FastCDC (512 KiB min, 1 MiB target, 8 MiB max, restic's bounds).

restic itself uses a Rabin chunker keyed by the config's polynomial; any chunking yields a valid repository,
only dedup with blobs restic wrote differs. The chunker is push-based so HTTP streams can feed it: data is
gathered in a buffer of ``BATCH`` bytes and cut every ``STEP`` bytes; every chunk found but the last is
emitted. The last one may have been cut by the end of the data, so it stays pending, and moves to the next
buffer when this one is full (FastCDC's cut points depend only on the bytes from the chunk's start).

A full buffer is used again (`BufferPool`) once every chunk cut from it is saved: a new one is zero-filled
while the thread holds the GIL, which the hashing threads need (a fifth of the GIL's time in a Box backup).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import BinaryIO, Protocol

from pyfastcdc import FastCDC

MIN_SIZE = 512 * 1024
AVG_SIZE = 1024 * 1024
MAX_SIZE = 8 * 1024 * 1024
BATCH = 2 * MAX_SIZE
# cut what has come every STEP bytes (the pending chunk is scanned again, past its MIN_SIZE)
STEP = 2 * AVG_SIZE


def _new_cdc() -> FastCDC:
    return FastCDC(AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)


class Saving(Protocol):
    """What `emit` returns for a chunk: done once the chunk's bytes are no longer read (`Writer.save`'s
    future: the writer does not read the data after it)."""

    def done(self) -> bool: ...


class BufferPool:
    """Full-size chunk buffers given back by the chunkers of one writer, each with the savings of the chunks
    cut from it; `take` hands one out again once all of them are done. Keeps `keep` buffers at most: the
    oldest is left to the garbage collector (memory stays bounded when saving falls behind)."""

    def __init__(self, keep: int = 6) -> None:
        self._keep = keep
        self._retired: deque[tuple[bytearray, list[Saving]]] = deque()
        self._lock = threading.Lock()
        self.reused = 0

    def take(self) -> bytearray:
        with self._lock:
            for i, (buf, savings) in enumerate(self._retired):
                if all(s.done() for s in savings):
                    del self._retired[i]
                    self.reused += 1
                    return buf
        return bytearray(BATCH)

    def retire(self, buf: bytearray, savings: list[Saving]) -> None:
        if len(buf) != BATCH:
            return
        with self._lock:
            self._retired.append((buf, savings))
            if len(self._retired) > self._keep:
                self._retired.popleft()


class Chunker:
    """Feeds ``emit`` with memoryviews of chunks; a view's bytes do not change while it is in use: without a
    pool its buffer is never written to again, with one not before what ``emit`` returned for it is done.

    Chunks are cut as the data comes, every ``STEP`` bytes, not once per full buffer: they reach the writer
    one at a time, soon after their bytes came, rather than sixteen at once (a burst larger than the writer's
    queue, which made the reading thread wait).
    """

    def __init__(
        self,
        emit: Callable[[memoryview], Saving | None],
        size_hint: int = 64 * 1024,
        pool: BufferPool | None = None,
    ) -> None:
        self._emit = emit
        self._cdc = _new_cdc()
        self._pool = pool
        # the savings of the chunks cut from the buffer; None once one chunk's emit gave none (the buffer
        # is then never handed out again: nothing says when its views are unused)
        self._savings: list[Saving] | None = []
        # zero-filling a full batch per small file would dominate: start at the expected size, grow to BATCH
        if pool is not None and size_hint + 1 >= BATCH:
            self._buf = pool.take()
        else:
            self._buf = bytearray(max(1, min(size_hint + 1, BATCH)))
        self._start = 0  # the first byte not emitted: where the pending chunk starts
        self._len = 0
        self._next_cut = STEP
        self.size = 0

    def _make_room(self) -> None:
        if self._len < len(self._buf):
            return
        if self._start == 0 and len(self._buf) < BATCH:
            # nothing was emitted from this buffer, so no view holds it: it may grow in place
            self._buf.extend(bytes(min(len(self._buf), BATCH - len(self._buf))))
            return
        self._cut(final=False)
        # the pending chunk (shorter than MAX_SIZE) moves to a new buffer: the emitted views keep the old one
        rest = memoryview(self._buf)[self._start : self._len]
        buf = self._pool.take() if self._pool is not None else bytearray(BATCH)
        pending = len(rest)
        buf[:pending] = rest
        rest.release()
        self._retire()
        self._buf, self._len, self._start = buf, pending, 0
        self._next_cut = self._len + STEP

    def _retire(self) -> None:
        """The buffer is left for a new one: to the pool, with its chunks' savings."""
        if self._pool is not None and self._savings is not None:
            self._pool.retire(self._buf, self._savings)
        self._savings = []

    def _added(self, n: int) -> None:
        self._len += n
        self.size += n
        if self._len >= self._next_cut:
            self._cut(final=False)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            self._make_room()
            room = len(self._buf) - self._len
            take = min(room, len(view))
            self._buf[self._len : self._len + take] = view[:take]
            view = view[take:]
            self._added(take)

    def read_from(self, f: BinaryIO) -> None:
        """Read a whole file straight into the chunk buffers (no intermediate copies)."""
        while True:
            self._make_room()
            view = memoryview(self._buf)[self._len :]
            n = f.readinto(view)  # type: ignore[attr-defined]
            view.release()
            if not n:
                return
            self._added(n)

    def fill(self, read: Callable[[memoryview], int]) -> int:
        """One `read` straight into the chunk buffer (a socket's `readinto`); returns its count."""
        self._make_room()
        view = memoryview(self._buf)[self._len :]
        try:
            n = read(view)
        finally:
            view.release()
        self._added(n)
        return n

    def _cut(self, final: bool) -> None:
        """Emit the chunks complete in the pending data; all of it when `final`. Without `final` the last
        chunk found may have been cut by the end of the data: it stays pending and is looked at again."""
        view = memoryview(self._buf)[self._start : self._len]
        chunks = [(c.offset, c.length) for c in self._cdc.cut_buf(view)]
        if not final and chunks:
            chunks.pop()
        for offset, length in chunks:
            saving = self._emit(view[offset : offset + length])
            if saving is None:
                self._savings = None
            elif self._savings is not None:
                self._savings.append(saving)
        if chunks:
            offset, length = chunks[-1]
            self._start += offset + length
        self._next_cut = self._len + STEP

    def finish(self) -> None:
        if self._len > self._start:
            self._cut(final=True)
        self._retire()
        self._buf = bytearray()
        self._start = self._len = 0
