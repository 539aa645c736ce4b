"""Content-defined chunking with FastCDC (512 KiB min, 1 MiB target, 8 MiB max, restic's bounds).

restic itself uses a Rabin chunker keyed by the config's polynomial; any chunking yields a valid repository,
only dedup with blobs restic wrote differs. The chunker is push-based so HTTP streams can feed it: data is
gathered in a buffer of ``BATCH`` bytes and cut every ``STEP`` bytes; every chunk found but the last is
emitted. The last one may have been cut by the end of the data, so it stays pending, and moves to the next
buffer when this one is full (FastCDC's cut points depend only on the bytes from the chunk's start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from pyfastcdc import FastCDC

MIN_SIZE = 512 * 1024
AVG_SIZE = 1024 * 1024
MAX_SIZE = 8 * 1024 * 1024
BATCH = 2 * MAX_SIZE
# cut what has come every STEP bytes (the pending chunk is scanned again, past its MIN_SIZE)
STEP = 2 * AVG_SIZE


def _new_cdc() -> FastCDC:
    return FastCDC(AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)


class Chunker:
    """Feeds ``emit`` with memoryviews of chunks; a view's buffer is never written to after emission.

    Chunks are cut as the data comes, every ``STEP`` bytes, not once per full buffer: they reach the writer
    one at a time, soon after their bytes came, rather than sixteen at once (a burst larger than the writer's
    queue, which made the reading thread wait).
    """

    def __init__(self, emit: Callable[[memoryview], None], size_hint: int = 64 * 1024) -> None:
        self._emit = emit
        self._cdc = _new_cdc()
        # zero-filling a full batch per small file would dominate: start at the expected size, grow to BATCH
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
        buf = bytearray(BATCH)
        buf[: len(rest)] = rest
        self._buf, self._len, self._start = buf, len(rest), 0
        self._next_cut = self._len + STEP

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
            self._emit(view[offset : offset + length])
        if chunks:
            offset, length = chunks[-1]
            self._start += offset + length
        self._next_cut = self._len + STEP

    def finish(self) -> None:
        if self._len > self._start:
            self._cut(final=True)
        self._buf = bytearray()
        self._start = self._len = 0
