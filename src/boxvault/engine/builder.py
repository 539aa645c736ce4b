"""Building one snapshot from any source: local files, HTTP streams (Box) or blob lists reused from before.

Paths are absolute, ``/``-separated; parent directories are created implicitly. Trees are written bottom-up
on ``commit()``, after which the writer is flushed (packs, then index) and only then the snapshot is saved.

Memory: every node stays in memory until its directory's tree is written. A caller that walks directory by
directory (post-order, as restic's archiver does) calls ``finish_dir()`` when a directory is complete: its
tree blob is written at once and the builder keeps only that directory's node, so a snapshot costs the widest
open directories, not the whole file count.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from . import gojson
from .chunker import Chunker
from .errors import EngineError, InvalidArgument
from .index import DATA, TREE
from .snapshot import Snapshot
from .tree import MODE_DIR, MODE_SYMLINK, Node, encode_tree
from .writer import WriteStats

if TYPE_CHECKING:
    from .writer import Writer

PROGRAM_VERSION = "boxvault 0.1.0"


@dataclass
class NodeMeta:
    """Metadata of a node; times are aware datetimes (or epoch nanoseconds in the ``*_ns`` fields)."""

    mtime: datetime | None = None
    ctime: datetime | None = None
    atime: datetime | None = None
    mode: int | None = None  # permission bits (0o644); the type bits are added by the builder
    uid: int = 0
    gid: int = 0
    user: str = ""
    group: str = ""
    extended_attributes: dict[str, bytes] | None = None
    inode: int = 0
    device_id: int = 0
    links: int = 0
    mtime_ns: int | None = None
    ctime_ns: int | None = None
    atime_ns: int | None = None


@dataclass(frozen=True)
class FileResult:
    content: list[bytes]
    size: int


def _time_text(dt: datetime | None, ns: int | None, default: str) -> str:
    if ns is not None:
        return gojson.format_local_ns(ns)
    if dt is not None:
        return gojson.format_datetime(dt)
    return default


def make_node(name: str, kind: str, meta: NodeMeta | None, default_time: str, default_perm: int) -> Node:
    meta = meta or NodeMeta()
    mtime = _time_text(meta.mtime, meta.mtime_ns, default_time)
    perm = default_perm if meta.mode is None else meta.mode
    type_bits = MODE_DIR if kind == "dir" else MODE_SYMLINK if kind == "symlink" else 0
    return Node(
        name=name,
        type=kind,
        mode=(perm & ~(MODE_DIR | MODE_SYMLINK)) | type_bits,
        mtime=mtime,
        atime=_time_text(meta.atime, meta.atime_ns, mtime),
        ctime=_time_text(meta.ctime, meta.ctime_ns, mtime),
        uid=meta.uid,
        gid=meta.gid,
        user=meta.user,
        group=meta.group,
        inode=meta.inode,
        device_id=meta.device_id,
        links=meta.links,
        extended_attributes=sorted((meta.extended_attributes or {}).items()),
    )


@dataclass
class _PendingFile(Node):
    """A file node whose blobs are still being saved: its content list is filled in when its directory's
    tree is written (or when someone asks for the file's result), not when the file ends. So the thread
    that reads and chunks goes on to the next file while the workers hash, compress and encrypt this one's
    last blobs: one wait per file used to stall the pipeline (docs/repository.md, profiles)."""

    futures: list[Future[bytes]] = field(default_factory=list)

    def resolve(self) -> list[bytes]:
        # Threads may resolve at once (a tree being written, a second user's copy of the file): the futures
        # are read before the content, and the content is set before the futures are dropped, so no thread
        # sees neither
        futures = self.futures
        content = self.content
        if content is None:
            content = [f.result() for f in futures]
            self.content = content
            self.futures = []
        return content

    def saved(self) -> bool:
        """Every blob saved, none failed: `resolve` returns at once."""
        return self.content is not None or all(f.done() and f.exception() is None for f in self.futures)


_NODE_FIELDS = [f for f in Node.__dataclass_fields__]


class _Dir:
    __slots__ = ("node", "children")

    def __init__(self, node: Node | None) -> None:
        self.node = node  # None while only implied by a descendant
        self.children: dict[str, _Dir | Node] = {}


def _pending_files(d: _Dir) -> Iterator[_PendingFile]:
    for child in d.children.values():
        if isinstance(child, _PendingFile):
            yield child
        elif isinstance(child, _Dir):
            yield from _pending_files(child)


def split_path(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise InvalidArgument(f"invalid snapshot path {path!r}: must be absolute, without '..'")
    return parts


class LaterResult:
    """A closed file's blob ids and size, asked for when needed (`FileWriter.later`)."""

    __slots__ = ("_node", "_builder", "_path")

    def __init__(self, node: _PendingFile, builder: SnapshotBuilder, path: str) -> None:
        self._node = node
        self._builder = builder
        self._path = path

    def done(self) -> bool:
        """Calling now would not wait, nor raise."""
        return self._node.saved()

    def __call__(self) -> FileResult:
        """Waits for the file's last blobs; a save that failed raises here."""
        try:
            content = self._node.resolve()
        except BaseException:
            # as before a lazy close: a file whose content could not be saved is not in the snapshot
            if not self._builder._done:
                self._builder.remove(self._path)
            raise
        return FileResult(list(content), self._node.size)


class FileWriter:
    """Streams one file's content into the repository: ``write()`` any number of times, then ``close()``."""

    def __init__(self, builder: SnapshotBuilder, path: str, meta: NodeMeta | None, size_hint: int) -> None:
        self.builder = builder
        self.path = path
        self.meta = meta
        self._futures: list[Future[bytes]] = []
        self._chunker = Chunker(self._emit, size_hint, builder.writer.buffers)
        self._node: _PendingFile | None = None
        self._result: FileResult | None = None

    def _emit(self, chunk: memoryview) -> Future[bytes]:
        saving = self.builder.writer.save(DATA, chunk, self.builder.stats)
        self._futures.append(saving)
        return saving

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._chunker.write(data)
        return len(data)

    def read_from(self, f: BinaryIO) -> None:
        self._chunker.read_from(f)

    def fill(self, read: Callable[[memoryview], int]) -> int:
        """Let `read` put bytes straight into the chunk buffer (`box.download.Sink`)."""
        return self._chunker.fill(read)

    def close(self) -> None:
        """The file is complete: its node joins the snapshot now, its blob ids when they are known."""
        if self._node is None:
            self._chunker.finish()
            self._node = self.builder.add_file_pending(
                self.path, self._futures, self._chunker.size, self.meta
            )
            self._futures = []

    @property
    def result(self) -> FileResult | None:
        """The file's blob ids and size once it is closed (waits for its last blobs to be saved); None
        before. A save that failed raises here."""
        if self._node is None:
            return None
        if self._result is None:
            self._result = self.later()()
        return self._result

    def later(self) -> LaterResult:
        """For a closed file: `result` to ask for later, from any thread. It holds the file's node only,
        not this writer and its chunker."""
        if self._node is None:
            raise InvalidArgument(f"{self.path}: the file is not closed")
        return LaterResult(self._node, self.builder, self.path)

    def abort(self) -> None:
        self._chunker = Chunker(self._emit, 0)
        self._futures.clear()

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class SnapshotBuilder:
    def __init__(
        self,
        writer: Writer,
        *,
        hostname: str,
        paths: list[str],
        tags: list[str],
        time: datetime | None,
        parent: str | bytes | None,
        username: str | None,
        program_version: str | None,
    ) -> None:
        self.writer = writer
        self.hostname = hostname
        self.paths = list(paths)
        self.tags = list(tags)
        self.time = gojson.format_datetime(time or datetime.now().astimezone())
        self.parent = bytes.fromhex(parent) if isinstance(parent, str) else parent
        self.username = username if username is not None else _username()
        self.program_version = program_version or PROGRAM_VERSION
        self.stats = WriteStats()
        self.files_new = 0
        self.files_reused = 0
        self.dirs = 0
        self.bytes_processed = 0
        self._root = _Dir(None)
        self._tree_jobs: list[Future[bytes]] = []
        self._lock = threading.Lock()
        self._done = False
        self._load_tree: Callable[[bytes], list[Node]] | None = None
        self._started = datetime.now().astimezone()

    # --- adding nodes -------------------------------------------------------------------------------------

    def _parent_dir(self, parts: list[str]) -> _Dir:
        d = self._root
        for name in parts:
            child = d.children.get(name)
            if child is None:
                child = d.children[name] = _Dir(None)
            elif isinstance(child, Node):
                if child.type == "dir" and child.subtree is not None and self._load_tree is not None:
                    d.children[name] = opened = self._open(child, self._load_tree)
                    d = opened
                    continue
                if child.type == "dir":
                    raise InvalidArgument(f"/{'/'.join(parts)}: {name!r} was already finished")
                raise InvalidArgument(f"{'/'.join(parts)}: {name!r} is a {child.type}, not a directory")
            d = child
        return d

    @staticmethod
    def _open(node: Node, load_tree: Callable[[bytes], list[Node]]) -> _Dir:
        """A written directory made open again: its own node, and its children as nodes."""
        assert node.subtree is not None
        opened = _Dir(node)
        opened.children = {n.name: n for n in load_tree(node.subtree)}
        node.subtree = None
        return opened

    def reopen_finished(self, load_tree: Callable[[bytes], list[Node]]) -> None:
        """From now on, adding below a finished directory opens it again (its tree read back with
        `load_tree`; its tree is written again at commit) instead of being refused: for a caller that
        learns of an item late, e.g. a folder listed again after it moved during the walk."""
        self._load_tree = load_tree

    def names(self, path: str) -> set[str]:
        """The names of what the directory at `path` holds now (read back if it was finished and
        `reopen_finished` was called); empty when there is no such directory."""
        with self._lock:
            d = self._existing_dir(split_path(path), self._load_tree)
            return set() if d is None else set(d.children)

    def _existing_dir(self, parts: list[str], load_tree: Callable[[bytes], list[Node]] | None) -> _Dir | None:
        """The directory at `parts`, finished ones on the way opened with `load_tree`; None when there is
        none (unlike `_parent_dir`, nothing is created). Under the lock."""
        d = self._root
        for name in parts:
            child = d.children.get(name)
            if isinstance(child, Node) and child.type == "dir" and child.subtree and load_tree:
                # a reused or finished directory: open it
                d.children[name] = child = self._open(child, load_tree)
            if not isinstance(child, _Dir):
                return None
            d = child
        return d

    def _put(self, path: str, node: Node) -> None:
        if self._done:
            raise InvalidArgument("the snapshot was already committed or aborted")
        parts = split_path(path)
        with self._lock:
            parent = self._parent_dir(parts[:-1])
            existing = parent.children.get(parts[-1])
            if existing is not None:
                raise InvalidArgument(f"{path} was added twice")
            parent.children[parts[-1]] = node

    def add_dir(self, path: str, meta: NodeMeta | None = None) -> None:
        parts = split_path(path)
        node = make_node(parts[-1], "dir", meta, self.time, 0o755)
        with self._lock:
            d = self._parent_dir(parts)
            if d.node is not None:
                raise InvalidArgument(f"{path} was added twice")
            d.node = node
            self.dirs += 1

    def add_dir_node(self, path: str, node: Node) -> None:
        """A directory whose node (metadata) the caller built, e.g. taken from a previous tree; its
        children are added as usual and its subtree is written at commit."""
        parts = split_path(path)
        node.name = parts[-1]
        node.subtree = None
        with self._lock:
            d = self._parent_dir(parts)
            if d.node is not None:
                raise InvalidArgument(f"{path} was added twice")
            d.node = node
            self.dirs += 1

    def add_file(self, path: str, meta: NodeMeta | None = None, size_hint: int = 64 * 1024) -> FileWriter:
        split_path(path)
        return FileWriter(self, path, meta, size_hint)

    def add_file_blobs(
        self, path: str, content: list[bytes], size: int, meta: NodeMeta | None = None
    ) -> None:
        """A file whose blobs are already stored (an unchanged file): nothing is read."""
        parts = split_path(path)
        node = make_node(parts[-1], "file", meta, self.time, 0o644)
        node.content = list(content)
        node.size = size
        self._put(path, node)
        with self._lock:
            self.files_reused += 1
            self.bytes_processed += size

    def add_file_pending(
        self, path: str, futures: list[Future[bytes]], size: int, meta: NodeMeta | None
    ) -> _PendingFile:
        """A new file whose blobs are still being saved (`FileWriter.close`)."""
        parts = split_path(path)
        base = make_node(parts[-1], "file", meta, self.time, 0o644)
        node = _PendingFile(**{f: getattr(base, f) for f in _NODE_FIELDS}, futures=futures)
        node.content = None
        node.size = size
        self._put(path, node)
        with self._lock:
            self.files_new += 1
            self.bytes_processed += size
        return node

    def add_symlink(self, path: str, target: str, meta: NodeMeta | None = None) -> None:
        parts = split_path(path)
        node = make_node(parts[-1], "symlink", meta, self.time, 0o777)
        node.linktarget = target
        self._put(path, node)

    def add_node(self, path: str, node: Node) -> None:
        """A node built by the caller (other special files); its name is taken from the path."""
        node.name = split_path(path)[-1]
        self._put(path, node)

    def finish_dir(self, path: str) -> bytes:
        """The directory at ``path`` is complete: write its tree (and any unfinished subdirectory's) now and
        keep only its node. Nothing may be added below it afterwards. Returns the tree id."""
        if self._done:
            raise InvalidArgument("the snapshot was already committed or aborted")
        parts = split_path(path)
        with self._lock:
            opened = self._parent_dir(parts[:-1]).children.get(parts[-1])
            pending = list(_pending_files(opened)) if isinstance(opened, _Dir) else []
        # Wait for the writer to save the files' last blobs before taking the lock to write the tree: the
        # download threads go on adding files meanwhile (they waited on this lock for a tenth of their time)
        for file in pending:
            file.resolve()
        with self._lock:
            parent = self._parent_dir(parts[:-1])
            d = parent.children.get(parts[-1])
            if d is None:
                d = _Dir(None)  # an empty directory that was never added explicitly
            if isinstance(d, Node):
                raise InvalidArgument(f"{path} is not an open directory")
            subtree = self._write_tree(d)
            node = d.node or make_node(parts[-1], "dir", None, self.time, 0o755)
            node.subtree = subtree
            node.content = None
            parent.children[parts[-1]] = node
            self._reap_tree_jobs()
        return subtree

    def _reap_tree_jobs(self) -> None:
        # Saved trees are done with; a failed save is raised here rather than at commit.
        pending = []
        for job in self._tree_jobs:
            if job.done():
                job.result()
            else:
                pending.append(job)
        self._tree_jobs = pending

    def remove(self, path: str, load_tree: Callable[[bytes], list[Node]] | None = None) -> bool:
        """Take back a node added earlier (a directory with everything below it); False when nothing is
        there. For callers that learn late that a node must not be in the snapshot (a Box item listed at two
        places while it moved). A directory on the way that was added whole (`add_node` with a subtree) is
        opened with `load_tree` (without it, nothing inside such a directory can be taken back). Blobs
        already saved stay in the repository, unreferenced until a prune."""
        if self._done:
            raise InvalidArgument("the snapshot was already committed or aborted")
        parts = split_path(path)
        load_tree = load_tree or self._load_tree
        with self._lock:
            d = self._existing_dir(parts[:-1], load_tree)
            return d is not None and d.children.pop(parts[-1], None) is not None

    # --- commit -------------------------------------------------------------------------------------------

    def _write_tree(self, d: _Dir) -> bytes:
        nodes: list[Node] = []
        for name, child in d.children.items():
            if isinstance(child, Node):
                if isinstance(child, _PendingFile):
                    child.resolve()
                nodes.append(child)
                continue
            subtree = self._write_tree(child)
            node = child.node or make_node(name, "dir", None, self.time, 0o755)
            node.subtree = subtree
            node.content = None
            nodes.append(node)
        data = encode_tree(nodes)
        # the id is needed at once by the parent tree; the blob itself is saved in the background
        tree_id = hashlib.sha256(data).digest()
        self._tree_jobs.append(self.writer.save(TREE, data, self.stats, tree_id))
        return tree_id

    def commit(self) -> str:
        """Write the trees, make every blob durable, then save the snapshot; returns its id."""
        if self._done:
            raise InvalidArgument("the snapshot was already committed or aborted")
        self._done = True
        tree = self._write_tree(self._root)
        for job in self._tree_jobs:
            job.result()  # surfaces a failed tree save here, before flush waits on the rest
        self.writer.flush()
        end = datetime.now().astimezone()
        snap = Snapshot(
            time=self.time,
            tree=tree,
            paths=self.paths,
            hostname=self.hostname,
            username=self.username,
            uid=os.getuid() if hasattr(os, "getuid") else 0,
            gid=os.getgid() if hasattr(os, "getgid") else 0,
            tags=self.tags,
            parent=self.parent,
            program_version=self.program_version,
            summary=self.summary(end),
        )
        try:
            return self.writer.repo.save_snapshot(snap)
        except OSError as e:
            raise EngineError(f"cannot save the snapshot: {e}") from e

    def summary(self, end: datetime) -> dict[str, object]:
        s = self.stats
        return {
            "backup_start": gojson.format_datetime(self._started),
            "backup_end": gojson.format_datetime(end),
            "files_new": self.files_new,
            "files_changed": 0,
            "files_unmodified": self.files_reused,
            "dirs_new": self.dirs,
            "dirs_changed": 0,
            "dirs_unmodified": 0,
            "data_blobs": s.data_blobs,
            "tree_blobs": s.tree_blobs,
            "data_added": s.data_added,
            "data_added_packed": s.data_added_packed,
            "total_files_processed": self.files_new + self.files_reused,
            "total_bytes_processed": self.bytes_processed,
        }

    def abort(self) -> None:
        self._done = True


def _username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
