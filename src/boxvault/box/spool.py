"""An append-only spool of small tuples on a temporary file, read back once in order.

The catalog rows of a user's run are only written after the snapshot is committed; on a 100,000-file
user they would otherwise sit in memory next to the snapshot's own tree.
"""

from __future__ import annotations

import marshal
import tempfile
import threading
from collections.abc import Iterator
from typing import Any


class Spool:
    def __init__(self, batch: int = 2000) -> None:
        self._file = tempfile.TemporaryFile(prefix="boxvault-spool-")  # noqa: SIM115 - closed in close()
        self._buffer: list[tuple[Any, ...]] = []
        self._batch = batch
        self._lock = threading.Lock()
        self.count = 0

    def append(self, row: tuple[Any, ...]) -> None:
        with self._lock:
            self._buffer.append(row)
            self.count += 1
            if len(self._buffer) >= self._batch:
                marshal.dump(self._buffer, self._file)
                self._buffer = []

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        with self._lock:
            if self._buffer:
                marshal.dump(self._buffer, self._file)
                self._buffer = []
            self._file.flush()
            end = self._file.tell()
            self._file.seek(0)
            while self._file.tell() < end:
                yield from marshal.load(self._file)  # noqa: S302 - our own anonymous temporary file  # nosec B302
            self._file.seek(end)

    def close(self) -> None:
        self._file.close()
