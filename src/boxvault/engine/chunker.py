"""Content-defined chunking with FastCDC (512 KiB min, 1 MiB target, 8 MiB max, restic's bounds).

restic itself uses a Rabin chunker keyed by the config's polynomial; any chunking yields a valid repository,
only dedup with blobs restic wrote differs. The chunker is push-based so HTTP streams can feed it: data is
gathered in a buffer of ``BATCH`` bytes, cut, and every chunk but the last is emitted; the last one may have
been cut by the end of the buffer, so it starts the next buffer (FastCDC's cut points depend only on the
bytes from the chunk's start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from pyfastcdc import FastCDC

MIN_SIZE = 512 * 1024
AVG_SIZE = 1024 * 1024
MAX_SIZE = 8 * 1024 * 1024
BATCH = 2 * MAX_SIZE


def _new_cdc() -> FastCDC:
    return FastCDC(AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)


class Chunker:
    """Feeds ``emit`` with memoryviews of chunks; a view's buffer is never written to after emission."""

    def __init__(self, emit: Callable[[memoryview], None], size_hint: int = 64 * 1024) -> None:
        self._emit = emit
        self._cdc = _new_cdc()
        # zero-filling a full batch per small file would dominate: start at the expected size, grow to BATCH
        self._buf = bytearray(max(1, min(size_hint + 1, BATCH)))
        self._len = 0
        self.size = 0

    def _make_room(self) -> None:
        if self._len < len(self._buf):
            return
        if len(self._buf) < BATCH:
            self._buf.extend(bytes(min(len(self._buf), BATCH - len(self._buf))))
        else:
            self._cut(final=False)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            self._make_room()
            room = len(self._buf) - self._len
            take = min(room, len(view))
            self._buf[self._len : self._len + take] = view[:take]
            self._len += take
            self.size += take
            view = view[take:]

    def read_from(self, f: BinaryIO) -> None:
        """Read a whole file straight into the chunk buffers (no intermediate copies)."""
        while True:
            self._make_room()
            view = memoryview(self._buf)[self._len :]
            n = f.readinto(view)  # type: ignore[attr-defined]
            view.release()
            if not n:
                return
            self._len += n
            self.size += n

    def fill(self, read: Callable[[memoryview], int]) -> int:
        """One `read` straight into the chunk buffer (a socket's `readinto`); returns its count."""
        self._make_room()
        view = memoryview(self._buf)[self._len :]
        try:
            n = read(view)
        finally:
            view.release()
        self._len += n
        self.size += n
        return n

    def _cut(self, final: bool) -> None:
        buf, used = self._buf, self._len
        view = memoryview(buf)[:used]
        chunks = [(c.offset, c.length) for c in self._cdc.cut_buf(view)]
        rest: bytes | memoryview = b""
        if not final and chunks:
            offset, _ = chunks.pop()
            rest = view[offset:]
        self._len = len(rest)
        self._buf = bytearray() if final else bytearray(BATCH)
        if rest:
            self._buf[: self._len] = rest
        for offset, length in chunks:
            self._emit(view[offset : offset + length])

    def finish(self) -> None:
        if self._len:
            self._cut(final=True)
        self._buf = bytearray()
        self._len = 0
