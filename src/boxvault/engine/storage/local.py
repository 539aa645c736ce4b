"""Local filesystem backend laid out and permissioned as restic's ``local`` backend does."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from .base import (
    CONFIG,
    DIRECTORIES,
    AlreadyExists,
    Buffer,
    NotFound,
    ShortRead,
    StorageError,
    check_directory,
    check_name,
    is_overwritable,
    same_object_allowed,
)

# restic creates files 0600 and makes them read-only once written (0400), directories 0700; a repository whose
# config is group-readable keeps group read access (0440/0750), so restic and boxvault can share one.
_FILE_MODE = 0o600
_DIR_MODE = 0o700
_GROUP_FILE_MODE = 0o640
_GROUP_DIR_MODE = 0o750
_READ_ONLY = ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
_TEMP_MARK = ".tmp-"
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 16


class LocalBackend:
    """A restic repository in a directory. Thread-safe: every call opens its own file handles."""

    def __init__(self, path: str | os.PathLike[str], location: str | None = None) -> None:
        self.root = Path(path).expanduser()
        self.location = location if location is not None else str(path)
        self._file_mode, self._dir_mode = _FILE_MODE, _DIR_MODE
        try:
            if self.root.joinpath(CONFIG).stat().st_mode & stat.S_IRGRP:
                self._file_mode, self._dir_mode = _GROUP_FILE_MODE, _GROUP_DIR_MODE
        except OSError:
            pass

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*check_name(name).split("/"))

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        if offset < 0 or (length is not None and length < 0):
            raise StorageError(f"invalid range for {name}: offset {offset}, length {length}", name)
        try:
            with open(self._path(name), "rb") as f:
                if offset:
                    f.seek(offset)
                data = f.read() if length is None else f.read(length)
        except FileNotFoundError:
            raise NotFound(name) from None
        except OSError as e:
            raise StorageError(f"cannot read {name}: {e.strerror or e}", name) from e
        if length is not None and len(data) != length:
            raise ShortRead(name, offset, length, len(data))
        return data

    def size(self, name: str) -> int:
        try:
            st = self._path(name).stat()
        except FileNotFoundError:
            raise NotFound(name) from None
        except OSError as e:
            raise StorageError(f"cannot stat {name}: {e.strerror or e}", name) from e
        if not stat.S_ISREG(st.st_mode):
            raise NotFound(name)
        return st.st_size

    def exists(self, name: str) -> bool:
        try:
            return stat.S_ISREG(self._path(name).stat().st_mode)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise StorageError(f"cannot stat {name}: {e.strerror or e}", name) from e

    def write(self, name: str, data: bytes) -> None:
        self.write_parts(name, (data,))

    def write_parts(self, name: str, parts: Sequence[Buffer]) -> None:
        """Store the concatenation of `parts` (a pack's blobs and header), written with `writev`: no joined
        copy of a 16 MiB pack in memory."""
        final = self._path(name)
        if name == CONFIG:
            self._create_layout()
        try:
            try:
                tmp, size = self._write_temp(final, parts)
            except FileNotFoundError:  # restic creates directories on demand too
                self._mkdirs(final.parent)
                tmp, size = self._write_temp(final, parts)
        except OSError as e:
            raise StorageError(f"cannot write {name}: {e.strerror or e}", name) from e
        try:
            if is_overwritable(name):
                os.replace(tmp, final)
            else:
                self._link_once(name, tmp, final, size)
            _fsync_dir(final.parent)
        except OSError as e:
            raise StorageError(f"cannot write {name}: {e.strerror or e}", name) from e
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass

    def _write_temp(self, final: Path, parts: Sequence[Buffer]) -> tuple[Path, int]:
        """The parts in a new temporary file beside `final`, written and synced; its path and size."""
        tmp = final.with_name(f".{final.name}{_TEMP_MARK}{secrets.token_hex(6)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), self._file_mode)
        try:
            size = _write_all(fd, parts)
            os.fsync(fd)
            if size >= _DROP_FROM and hasattr(os, "posix_fadvise"):
                # written and durable: its pages need not stay cached, since a backup reads no pack back
                # (as borg does). The kernel then reuses those pages for the next pack instead of taking
                # fresh ones: a full backup's system time halved (docs/repository.md)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.fchmod(fd, self._file_mode & _READ_ONLY)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        return tmp, size

    def _link_once(self, name: str, tmp: Path, final: Path, size: int) -> None:
        # A hard link creates the final name only if it is free, atomically: no exists-then-rename race
        try:
            os.link(tmp, final)
            return
        except FileExistsError:
            pass
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            # a filesystem without hard links: best effort, as restic itself does
            if not final.exists():
                os.replace(tmp, final)
                return
        if same_object_allowed(name) and final.stat().st_size == size:
            return
        raise AlreadyExists(name)

    def delete(self, name: str) -> None:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StorageError(f"cannot delete {name}: {e.strerror or e}", name) from e

    def list(self, directory: str) -> Iterator[tuple[str, int]]:
        prefix = check_directory(directory)
        base = self.root.joinpath(*prefix.split("/")) if prefix else self.root
        yield from self._walk(base, prefix)

    def _walk(self, path: Path, prefix: str) -> Iterator[tuple[str, int]]:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as e:
            raise StorageError(f"cannot list {prefix or '/'}: {e.strerror or e}", prefix) from e
        for entry in entries:
            if entry.name.startswith("."):  # our temporary files, and hidden files restic ignores too
                continue
            name = f"{prefix}/{entry.name}" if prefix else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), name)
            elif entry.is_file():
                try:
                    yield name, entry.stat().st_size
                except FileNotFoundError:  # deleted while listing
                    continue

    def close(self) -> None:
        pass

    def _mkdirs(self, path: Path) -> None:
        try:
            path.mkdir(mode=self._dir_mode, parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create directory {path}: {e.strerror or e}") from e

    def _create_layout(self) -> None:
        """restic's ``init`` creates every directory, including the 256 ``data/xx`` ones, up front."""
        self._mkdirs(self.root)
        for directory in DIRECTORIES:
            self._mkdirs(self.root / directory)
        for i in range(256):
            self._mkdirs(self.root / "data" / f"{i:02x}")


_DROP_FROM = 4 * 2**20  # packs, not config, keys, index or snapshot files


def _fsync_dir(path: Path) -> None:
    # the rename is durable only once the directory entry is on disk
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, parts: Sequence[Buffer]) -> int:
    """Write every byte of `parts` in order (`writev` of up to IOV_MAX parts at a time); their total size."""
    views = [memoryview(p).cast("B") for p in parts]
    total = sum(v.nbytes for v in views)
    i = 0
    while i < len(views):
        batch = views[i : i + _IOV_MAX]
        done = os.writev(fd, batch)
        # a short write: skip the parts written whole, keep the rest of a part written in part
        while batch and done >= batch[0].nbytes:
            done -= batch[0].nbytes
            batch.pop(0)
            i += 1
        if batch and done:
            views[i] = views[i][done:]
    return total
