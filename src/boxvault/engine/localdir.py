"""``boxvault repo backup DIR...``: snapshot local directories through the SnapshotBuilder API.

As restic does, the snapshot's tree starts at ``/`` (every ancestor of a backed-up path is a directory node
with its real metadata), and a file is read again only if its size, mtime, ctime or inode differ from the
parent snapshot's node (the latest snapshot with the same host and paths).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from .builder import NodeMeta, SnapshotBuilder
from .errors import EngineError
from .tree import Node

if TYPE_CHECKING:
    from .repository import Repository
    from .snapshot import Snapshot
    from .writer import Writer

Progress = Callable[[int, int], None]  # (files done, bytes done)


@lru_cache(maxsize=256)
def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@lru_cache(maxsize=256)
def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def meta_from_stat(st: os.stat_result) -> NodeMeta:
    return NodeMeta(
        mode=_go_perm(st.st_mode),
        mtime_ns=st.st_mtime_ns,
        atime_ns=st.st_atime_ns,
        ctime_ns=st.st_ctime_ns,
        uid=st.st_uid,
        gid=st.st_gid,
        user=_user(st.st_uid),
        group=_group(st.st_gid),
        inode=st.st_ino,
        device_id=st.st_dev,
        links=st.st_nlink,
    )


def _go_perm(st_mode: int) -> int:
    from .tree import go_mode_from_stat

    return go_mode_from_stat(st_mode)


def find_parent(repo: Repository, hostname: str, paths: list[str]) -> Snapshot | None:
    candidates = [s for s in repo.list_snapshots(host=hostname) if sorted(s.paths) == sorted(paths)]
    return candidates[-1] if candidates else None


class _ParentTree:
    """The parent snapshot's nodes of one directory, loaded lazily."""

    def __init__(self, repo: Repository, tree_id: bytes | None) -> None:
        self.repo = repo
        self.tree_id = tree_id
        self._nodes: dict[str, Node] | None = None

    def nodes(self) -> dict[str, Node]:
        if self._nodes is None:
            self._nodes = {}
            if self.tree_id is not None:
                try:
                    self._nodes = {n.name: n for n in self.repo.load_tree(self.tree_id)}
                except EngineError:
                    self._nodes = {}  # a damaged parent only costs re-reading the files
        return self._nodes

    def child(self, name: str) -> _ParentTree:
        node = self.nodes().get(name)
        return _ParentTree(self.repo, node.subtree if node is not None and node.type == "dir" else None)


class LocalBackup:
    def __init__(
        self,
        repo: Repository,
        writer: Writer,
        builder: SnapshotBuilder,
        parent: Snapshot | None,
        progress: Progress | None = None,
    ) -> None:
        self.repo = repo
        self.writer = writer
        self.builder = builder
        self.parent_root = _ParentTree(repo, parent.tree if parent is not None else None)
        self.progress = progress
        self.files = 0
        self.bytes = 0
        self.errors: list[str] = []

    def add_path(self, path: str) -> None:
        path = os.path.abspath(path)
        parts = [p for p in path.split("/") if p]
        parent = self.parent_root
        current = ""
        for name in parts[:-1]:
            current += "/" + name
            parent = parent.child(name)
            try:
                self.builder.add_dir(current, meta_from_stat(os.lstat(current)))
            except EngineError:
                pass  # already added for another path
        self._add_entry(path, parent)

    def _add_entry(self, path: str, parent_dir: _ParentTree) -> None:
        name = os.path.basename(path) or "/"
        try:
            st = os.lstat(path)
        except OSError as e:
            self.errors.append(f"{path}: {e.strerror or e}")
            return
        meta = meta_from_stat(st)
        if stat.S_ISDIR(st.st_mode):
            self.builder.add_dir(path, meta)
            sub = parent_dir.child(name)
            try:
                with os.scandir(path) as it:
                    entries = sorted(e.name for e in it)
            except OSError as e:
                self.errors.append(f"{path}: {e.strerror or e}")
                return
            for entry in entries:
                self._add_entry(f"{path}/{entry}" if path != "/" else f"/{entry}", sub)
        elif stat.S_ISREG(st.st_mode):
            self._add_file(path, st, meta, parent_dir.nodes().get(name))
        elif stat.S_ISLNK(st.st_mode):
            self.builder.add_symlink(path, os.readlink(path), meta)
        else:
            self.errors.append(f"{path}: special files are not backed up")

    def _add_file(self, path: str, st: os.stat_result, meta: NodeMeta, old: Node | None) -> None:
        if old is not None and self._unchanged(old, st):
            self.builder.add_file_blobs(path, list(old.content or []), st.st_size, meta)
        else:
            try:
                with open(path, "rb", buffering=0) as f, self.builder.add_file(path, meta, st.st_size) as fw:
                    fw.read_from(f)
            except OSError as e:
                self.errors.append(f"{path}: {e.strerror or e}")
                return
        self.files += 1
        self.bytes += st.st_size
        if self.progress is not None:
            self.progress(self.files, self.bytes)

    def _unchanged(self, old: Node, st: os.stat_result) -> bool:
        if old.type != "file" or old.size != st.st_size or old.inode != st.st_ino:
            return False
        try:
            if old.mtime_ns != st.st_mtime_ns:
                return False
            if gojson_parse(old.ctime) != st.st_ctime_ns:
                return False
        except ValueError:
            return False
        return all(self.repo.index.has(0, b) for b in old.content or [])


def gojson_parse(text: str) -> int:
    from .gojson import parse_time

    return parse_time(text)[0]


def backup(
    repo: Repository,
    writer: Writer,
    paths: list[str],
    *,
    hostname: str,
    tags: list[str],
    parent: Snapshot | None = None,
    use_parent: bool = True,
    progress: Progress | None = None,
) -> tuple[str, LocalBackup]:
    abs_paths = sorted({os.path.abspath(p) for p in paths})
    for p in abs_paths:
        if not os.path.lexists(p):
            raise EngineError(f"{p} does not exist")
    if parent is None and use_parent:
        parent = find_parent(repo, hostname, abs_paths)
    builder = writer.snapshot(
        hostname=hostname,
        paths=abs_paths,
        tags=tags,
        parent=bytes.fromhex(parent.id) if parent is not None else None,
    )
    job = LocalBackup(repo, writer, builder, parent, progress)
    for p in abs_paths:
        job.add_path(p)
    return builder.commit(), job
