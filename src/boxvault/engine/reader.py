"""Reading snapshots: walking trees, streaming file contents, restoring to a directory."""

from __future__ import annotations

import io
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import CorruptObject, EngineError, InvalidArgument, MissingObject
from .index import BlobLocation
from .storage import NotFound, ShortRead, data_name
from .tree import Node, unix_perm

if TYPE_CHECKING:
    from .repository import Repository
    from .snapshot import Snapshot


def _safe_name(name: str, where: str) -> str:
    if name in ("", ".", "..") or "/" in name or "\x00" in name:
        raise CorruptObject(f"tree of {where or '/'}", f"unsafe node name {name!r}")
    return name


def _selected(path: str, include: list[str] | None) -> tuple[bool, bool]:
    """(yield this path, descend into it) for restic-style path includes (prefixes of whole components)."""
    if not include:
        return True, True
    for inc in include:
        if path == inc or path.startswith(inc + "/"):
            return True, True
    descend = any(inc.startswith(path + "/") for inc in include)
    return False, descend


def walk(
    repo: Repository, snapshot: Snapshot, include: list[str] | None = None
) -> Iterator[tuple[str, Node]]:
    """Every node below the snapshot's root tree, parents before children, paths absolute."""
    inc = [("/" + p.strip("/")) if p.strip("/") else "/" for p in include or []]
    if "/" in inc:
        inc = []
    yield from _walk(repo, snapshot.tree, "", inc)


def _walk(repo: Repository, tree_id: bytes, prefix: str, include: list[str]) -> Iterator[tuple[str, Node]]:
    for node in repo.load_tree(tree_id):
        path = f"{prefix}/{_safe_name(node.name, prefix)}"
        emit, descend = _selected(path, include)
        if emit:
            yield path, node
        if node.type == "dir" and node.subtree is not None and descend:
            yield from _walk(repo, node.subtree, path, include)


class FileReader(io.RawIOBase):
    """A file's content, blob after blob; the next blobs (up to ``AHEAD``) are fetched while the current one
    is consumed, so a consumer that waits between reads (an upload of each part into Box) finds them
    decrypted and checked."""

    _prefetch_pool: ThreadPoolExecutor | None = None
    _pool_lock = threading.Lock()
    AHEAD = 8  # blobs (~1 MiB each, at most 8 MiB): about one part of a chunked upload into Box

    def __init__(self, repo: Repository, node: Node) -> None:
        super().__init__()
        if node.type != "file":
            raise InvalidArgument(f"{node.name} is a {node.type}, not a file")
        self.repo = repo
        self.node = node
        self._blobs = list(node.content or [])
        self._next = 0  # the next blob to consume
        self._buf = memoryview(b"")
        self._ahead: deque[Future[bytes]] = deque()  # blobs _next, _next + 1, ... being fetched

    @classmethod
    def _pool(cls) -> ThreadPoolExecutor:
        with cls._pool_lock:
            if cls._prefetch_pool is None:
                cls._prefetch_pool = ThreadPoolExecutor(4, thread_name_prefix="prefetch")
            return cls._prefetch_pool

    def readable(self) -> bool:
        return True

    def _load_next(self) -> bool:
        if self._next >= len(self._blobs):
            return False
        data = self._ahead.popleft().result() if self._ahead else self.repo.load_blob(self._blobs[self._next])
        self._next += 1
        # the first blob is read in the caller's thread (a small file needs no other); then keep AHEAD going
        while len(self._ahead) < self.AHEAD and self._next + len(self._ahead) < len(self._blobs):
            self._ahead.append(
                self._pool().submit(self.repo.load_blob, self._blobs[self._next + len(self._ahead)])
            )
        self._buf = memoryview(data)
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not len(self._buf):
            if not self._load_next():
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def iter_blobs(self) -> Iterator[bytes]:
        """Whole blobs (the fastest way to copy a file elsewhere)."""
        if len(self._buf):
            yield bytes(self._buf)
            self._buf = memoryview(b"")
        while self._load_next():
            chunk = bytes(self._buf) if not isinstance(self._buf.obj, bytes) else self._buf.obj
            self._buf = memoryview(b"")
            yield chunk

    def close(self) -> None:
        while self._ahead:
            self._ahead.popleft().cancel()
        super().close()


def iter_files(
    repo: Repository, snapshot: Snapshot, include: list[str] | None = None
) -> Iterator[tuple[str, Node, FileReader]]:
    for path, node in walk(repo, snapshot, include):
        if node.type == "file":
            yield path, node, FileReader(repo, node)


class RestoreIncomplete(EngineError):
    """Some files could not be restored (damaged or missing data); every other file was."""

    def __init__(self, failed: list[tuple[str, str]], stats: RestoreStats) -> None:
        shown = "; ".join(f"{path}: {error}" for path, error in failed[:20])
        more = f" (and {len(failed) - 20} more)" if len(failed) > 20 else ""
        super().__init__(f"{len(failed)} files could not be restored: {shown}{more}")
        self.failed = failed
        self.stats = stats


@dataclass
class RestoreStats:
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    bytes: int = 0
    skipped: int = 0


def _apply_meta(path: str, node: Node, *, symlink: bool = False) -> None:
    try:
        if not symlink:
            os.chmod(path, unix_perm(node.mode))
        os.utime(path, ns=(node.atime_ns, node.mtime_ns), follow_symlinks=not symlink)
    except (OSError, ValueError, OverflowError):
        pass  # metadata is best effort, as restic's restorer only warns


def restore(
    repo: Repository,
    snapshot: Snapshot,
    target: str,
    include: list[str] | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RestoreStats:
    """Restore the snapshot (or the included paths) below ``target``, as ``restic restore --target``.

    Like restic's restorer, work is grouped by pack: each pack is read once (the span of the blobs needed),
    and every blob is decrypted, checked and written to all the places it goes.
    """
    stats = RestoreStats()
    workers = workers or restore_workers()
    root = os.path.abspath(target)
    # files are created by the first worker writing to them; only into a target that already has content
    # must an old file be removed first, so that no stale bytes survive past the restored size
    fresh_target = not os.path.isdir(root) or not any(os.scandir(root))
    os.makedirs(root, exist_ok=True)
    repo.load_index()
    dirs: list[tuple[str, Node]] = []
    files: list[tuple[str, Node]] = []
    made: set[str] = {root}
    missing_blobs: list[str] = []
    by_pack: dict[bytes, dict[bytes, _BlobJob]] = {}
    for path, node in walk(repo, snapshot, include):
        dest = root + path
        parent = dest.rsplit("/", 1)[0]
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        if node.type == "dir":
            if dest not in made:
                os.makedirs(dest, exist_ok=True)
                made.add(dest)
            dirs.append((dest, node))
            stats.dirs += 1
        elif node.type == "file":
            if not fresh_target and os.path.lexists(dest):
                os.unlink(dest)
            offset = 0
            state = _FileState(dest, node)
            for blob_id in node.content or []:
                loc = repo.lookup(blob_id, "data")
                if loc is None:
                    missing_blobs.append(path)
                    break
                job = by_pack.setdefault(loc.pack_id, {}).get(blob_id)
                if job is None:
                    job = by_pack[loc.pack_id][blob_id] = _BlobJob(blob_id, loc, [])
                job.targets.append((state, offset))
                state.remaining += 1
                offset += loc.plain_length
            state.size = offset
            if not offset:
                _create(dest, 0)
                files.append((dest, node))
            stats.files += 1
            stats.bytes += offset
        elif node.type == "symlink":
            if os.path.lexists(dest):
                os.unlink(dest)
            os.symlink(node.linktarget, dest)
            _apply_meta(dest, node, symlink=True)
            stats.symlinks += 1
        else:
            stats.skipped += 1  # devices, fifos and sockets need privileges restic also asks for

    failed: dict[str, str] = {}  # restored path -> first error; the other files are still restored
    failed_lock = threading.Lock()

    def fail(job: _BlobJob, error: EngineError) -> None:
        with failed_lock:
            for state, _ in job.targets:
                failed.setdefault(state.dest[len(root) :] or "/", str(error))
        for state, _ in job.targets:
            state.finish(1)  # a failed blob is not written, and its file gets no metadata

    def restore_pack(item: tuple[bytes, dict[bytes, _BlobJob]]) -> int:
        pack_id, jobs = item
        ordered = sorted(jobs.values(), key=lambda j: j.location.offset)
        done = 0
        name = data_name(pack_id.hex())
        # each file is opened once per pack and, once its last blob is in, gets its metadata through the
        # open descriptor: no reopening per blob, no second pass over every path at the end
        open_fds: dict[_FileState, tuple[int, int]] = {}  # file -> (fd, blobs written or failed here)
        try:
            for group in _spans(ordered):
                done += restore_span(name, group, open_fds)
        finally:
            while open_fds:
                _release(open_fds)
        if progress is not None:
            progress(done)
        return done

    def restore_span(name: str, group: list[_BlobJob], open_fds: dict[_FileState, tuple[int, int]]) -> int:
        done = 0
        start = group[0].location.offset
        end = group[-1].location.offset + group[-1].location.length
        try:
            raw = memoryview(repo.backend.read(name, start, end - start))
        except NotFound:
            for job in group:
                fail(job, MissingObject(name, f"data blob {job.blob_id.hex()}"))
            return 0
        except ShortRead as e:
            for job in group:
                fail(job, CorruptObject(name, f"truncated ({e})"))
            return 0
        for job in group:
            loc = job.location
            try:
                plain: bytes | None = repo.read_blob_at(
                    job.blob_id, "data", loc, raw=raw[loc.offset - start :][: loc.length]
                )
            except EngineError as e:
                fail(job, e)
                plain = None
            if plain is None:
                continue
            for state, offset in job.targets:
                entry = open_fds.get(state)
                if entry is None:
                    entry = (state.open(), 0)
                open_fds[state] = (entry[0], entry[1] + 1)
                _pwrite_all(entry[0], plain, offset)
            done += len(plain) * len(job.targets)
            while len(open_fds) > _OPEN_FILES:
                _release(open_fds)
        return done

    with ThreadPoolExecutor(workers, thread_name_prefix="restore") as pool:
        for _ in pool.map(restore_pack, list(by_pack.items())):
            pass
    for dest, node in files:  # empty files; the others got theirs when their last blob was written
        _apply_meta(dest, node)
    for dest, node in reversed(dirs):
        _apply_meta(dest, node)
    for path in missing_blobs:
        failed.setdefault(path, "a data blob is not in any index")
    if failed:
        raise RestoreIncomplete(sorted(failed.items()), stats)
    return stats


def restore_workers() -> int:
    """Two per core, at most eight. A restore's time is mostly the kernel's (creating files, copying into
    the page cache): on 2 cores, 4 workers restored the benchmark corpus in 1.6-1.8 s, 6 in 1.9-2.0 s
    (more system time in the file system's locks; docs/repository.md)."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


@dataclass
class _BlobJob:
    blob_id: bytes
    location: BlobLocation
    targets: list[tuple[_FileState, int]]


_GAP = 1024 * 1024  # read across holes smaller than this rather than issuing another request
# one read holds at most this much (unless one blob is larger): six workers each holding a whole 16 MiB pack
# doubled the restore's peak memory over restic's; 4 MiB reads cost a few more requests and no speed
_SPAN_MAX = 4 * 1024 * 1024


def _spans(jobs: list[_BlobJob]) -> Iterator[list[_BlobJob]]:
    group: list[_BlobJob] = []
    for job in jobs:
        if group:
            last = group[-1].location
            end = job.location.offset + job.location.length
            if (
                job.location.offset - (last.offset + last.length) > _GAP
                or end - group[0].location.offset > _SPAN_MAX
            ):
                yield group
                group = []
        group.append(job)
    if group:
        yield group


_OPEN_FILES = 32  # descriptors one restore worker keeps open (a pack of small files holds thousands)


def _release(open_fds: dict[_FileState, tuple[int, int]]) -> None:
    """Close the longest-open file, setting its metadata if no other blob of it is still to come."""
    state = next(iter(open_fds))
    fd, count = open_fds.pop(state)
    try:
        if state.finish(count):
            _apply_meta_fd(fd, state.node)
    finally:
        os.close(fd)


class _FileState:
    """A restored file with content: how many blob writes are still to come before its metadata is set."""

    __slots__ = ("dest", "node", "size", "remaining", "_created", "_lock")

    def __init__(self, dest: str, node: Node) -> None:
        self.dest = dest
        self.node = node
        self.size = 0
        self.remaining = 0
        self._created = False
        self._lock = threading.Lock()

    def open(self) -> int:
        """The file opened for writing; whoever opens it first sets its final size, so later writes
        land in a file of known length and no stale byte of an old file survives."""
        fd = os.open(self.dest, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        with self._lock:
            first, self._created = not self._created, True
        if first:
            try:
                os.ftruncate(fd, self.size)
            except OSError:
                pass  # a file system without ftruncate still gets every byte written
        return fd

    def finish(self, count: int) -> bool:
        """Record ``count`` blob writes done; True for the caller that completed the file."""
        with self._lock:
            self.remaining -= count
            return self.remaining == 0


def _apply_meta_fd(fd: int, node: Node) -> None:
    try:
        os.fchmod(fd, unix_perm(node.mode))
        os.utime(fd, ns=(node.atime_ns, node.mtime_ns))
    except (OSError, ValueError, OverflowError):
        pass  # metadata is best effort, as restic's restorer only warns


def _pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _create(dest: str, size: int) -> None:
    try:
        if os.path.islink(dest):
            os.unlink(dest)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as e:
        raise EngineError(f"cannot create {dest}: {e.strerror or e}") from e
    try:
        if size:
            os.ftruncate(fd, size)
    finally:
        os.close(fd)
