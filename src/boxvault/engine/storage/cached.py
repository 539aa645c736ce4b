"""Two wrappers around a Backend: a counter of requests, and an on-disk cache of index and snapshot files.

The cache works like restic's cache directory: index and snapshot files never change once written (their
name is the SHA-256 of their content), so a copy kept on local disk is as good as the original, and it is
checked against its name on every read (a damaged copy is dropped and read again from storage). Writes
go to a temporary file renamed into place, so several worker processes can share one directory. A file
removed from the repository (prune, forget) is dropped from the cache when the directory is next listed.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from .base import Backend, Buffer, write_parts

CACHED_DIRECTORIES = ("index", "snapshots")


class CountingBackend:
    """Counts every request made to the wrapped backend (by operation and directory), for tests and bench."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.location = inner.location
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, op: str, name: str) -> None:
        with self._lock:
            self.counts[f"{op} {name.split('/', 1)[0]}"] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        self._count("read", name)
        return self.inner.read(name, offset, length)

    def write(self, name: str, data: bytes) -> None:
        self._count("write", name)
        self.inner.write(name, data)

    def write_parts(self, name: str, parts: Sequence[Buffer]) -> None:
        self._count("write", name)
        write_parts(self.inner, name, parts)

    def exists(self, name: str) -> bool:
        self._count("exists", name)
        return self.inner.exists(name)

    def size(self, name: str) -> int:
        self._count("size", name)
        return self.inner.size(name)

    def delete(self, name: str) -> None:
        self._count("delete", name)
        self.inner.delete(name)

    def list(self, directory: str) -> Iterator[tuple[str, int]]:
        self._count("list", directory)
        return self.inner.list(directory)

    def locked_until(self, names: Sequence[str]) -> dict[str, datetime.datetime]:
        """Object lock (S3): passed through to the wrapped backend; nothing is locked on other backends."""
        return locked_until(self.inner, names)

    def close(self) -> None:
        self.inner.close()


class CachedBackend:
    """Serves whole reads of ``index/<id>`` and ``snapshots/<id>`` from ``directory`` when it holds them."""

    def __init__(self, inner: Backend, directory: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.location = inner.location
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def _path(self, name: str) -> Path | None:
        parts = name.split("/")
        if len(parts) != 2 or parts[0] not in CACHED_DIRECTORIES or len(parts[1]) != 64:
            return None
        return self.directory / parts[0] / parts[1]

    def _load(self, path: Path) -> bytes | None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != path.name:
            path.unlink(missing_ok=True)  # damaged (or half-written by a crashed writer): read it again
            return None
        return data

    def _store(self, path: Path, data: bytes) -> None:
        if hashlib.sha256(data).hexdigest() != path.name:
            return  # never cache what does not match its name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)  # atomic: another worker reads the old file or the whole new one
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass  # a cache that cannot be written is only slower

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self._path(name)
        if path is None or offset or length is not None:
            return self.inner.read(name, offset, length)
        data = self._load(path)
        if data is not None:
            self.hits += 1
            return data
        self.misses += 1
        data = self.inner.read(name)
        self._store(path, data)
        return data

    def write(self, name: str, data: bytes) -> None:
        self.write_parts(name, (data,))

    def write_parts(self, name: str, parts: Sequence[Buffer]) -> None:
        write_parts(self.inner, name, parts)
        path = self._path(name)
        if path is not None:
            self._store(path, b"".join(parts))

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def size(self, name: str) -> int:
        return self.inner.size(name)

    def delete(self, name: str) -> None:
        self.inner.delete(name)
        path = self._path(name)
        if path is not None:
            path.unlink(missing_ok=True)

    def list(self, directory: str) -> Iterator[tuple[str, int]]:
        listed = list(self.inner.list(directory))
        if directory in CACHED_DIRECTORIES:
            self._drop_unlisted(directory, {name.rsplit("/", 1)[-1] for name, _ in listed})
        return iter(listed)

    def _drop_unlisted(self, directory: str, present: set[str]) -> None:
        """Files the repository no longer has (pruned, forgotten) leave the cache too."""
        try:
            cached = list((self.directory / directory).iterdir())
        except OSError:
            return
        for path in cached:
            if len(path.name) == 64 and path.name not in present:
                path.unlink(missing_ok=True)

    def locked_until(self, names: Sequence[str]) -> dict[str, datetime.datetime]:
        """Object lock (S3): passed through to the wrapped backend; nothing is locked on other backends."""
        return locked_until(self.inner, names)

    def close(self) -> None:
        self.inner.close()


def locked_until(backend: object, names: Sequence[str]) -> dict[str, datetime.datetime]:
    inner = getattr(backend, "locked_until", None)
    return inner(names) if inner is not None else {}
