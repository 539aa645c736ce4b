"""The storage interface every backend provides, its errors, and restic's object naming rules."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

# restic's top-level directories; "data" holds one level of two-hex-digit subdirectories.
DIRECTORIES = ("data", "index", "keys", "locks", "snapshots")
CONFIG = "config"

_ID = re.compile(r"[0-9a-f]{64}")
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


class StorageError(Exception):
    """Any failure of a storage backend, with the object name (if any) in the message."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class NotFound(StorageError):
    """The named object does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"object not found: {name}", name)


class AlreadyExists(StorageError):
    """A create-only write found a different object already stored under the name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"object already exists: {name}", name)


class ShortRead(StorageError):
    """Fewer bytes were stored than a ranged read asked for (a truncated object)."""

    def __init__(self, name: str, offset: int, wanted: int, got: int) -> None:
        super().__init__(f"short read of {name}: wanted {wanted} bytes at offset {offset}, got {got}", name)


@runtime_checkable
class Backend(Protocol):
    """A restic repository's object store. Names are restic paths such as ``data/ab/<id>``.

    Implementations are thread-safe: the engine uploads packs from a thread pool.
    """

    location: str

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Return ``length`` bytes from ``offset`` (all to the end if None); NotFound, ShortRead."""
        ...

    def write(self, name: str, data: bytes) -> None:
        """Store atomically. Only ``locks/`` may be overwritten; see ``check_overwrite``."""
        ...

    def exists(self, name: str) -> bool: ...

    def size(self, name: str) -> int:
        """Size in bytes; NotFound."""
        ...

    def delete(self, name: str) -> None:
        """Remove the object; no error when it is already gone."""
        ...

    def list(self, directory: str) -> Iterator[tuple[str, int]]:
        """Yield ``(name, size)`` for every object below ``directory`` (e.g. ``"data"``)."""
        ...

    def close(self) -> None: ...


def data_name(object_id: str) -> str:
    """restic's pack path: ``data/<first two hex digits>/<id>``."""
    return f"data/{object_id[:2]}/{object_id}"


def object_name(directory: str, object_id: str) -> str:
    """Path of a file of the given kind (``data`` gets the two-hex-digit subdirectory)."""
    if directory == "data":
        return data_name(object_id)
    return f"{directory}/{object_id}"


def check_name(name: str) -> str:
    """Reject names that could escape the repository or that no restic repository contains."""
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") or not _SEGMENT.fullmatch(p) for p in parts):
        raise StorageError(f"invalid object name: {name!r}", name)
    return name


def check_directory(directory: str) -> str:
    directory = directory.strip("/")
    if directory:
        check_name(directory)
    return directory


def is_overwritable(name: str) -> bool:
    """restic rewrites only lock files (refresh); every other object is created once."""
    return name.startswith("locks/")


def same_object_allowed(name: str) -> bool:
    """Whether re-writing an existing object of equal size counts as success.

    Every file but ``config`` is named by the SHA-256 of its content, so an object already stored under
    that name with the same size is the same object: a retried upload whose first attempt did land.
    ``config`` is not content-addressed: a second ``init`` must fail.
    """
    return name != CONFIG


Buffer = bytes | bytearray | memoryview


def write_parts(backend: Backend, name: str, parts: Sequence[Buffer]) -> None:
    """Store the concatenation of `parts` (a pack's blobs and header) as ``write`` would. A backend with its
    own ``write_parts`` (local files: one ``writev``, no joined copy of the pack; the wrappers pass it on)
    gets the parts; any other gets them joined."""
    own = getattr(backend, "write_parts", None)
    if own is not None:
        own(name, parts)
    else:
        backend.write(name, b"".join(parts))
