"""Erasing paths of one Box user from a task's repository: the engine's rewrite, then prune (no Django here).

Order, all under one exclusive repository lock (the caller takes it; see docs/recovery.md "Locking"):

1. rewrite every snapshot of the user (tag ``user:<id>``) without the paths, forgetting the originals
   (``engine.rewrite.rewrite(..., forget=True)``); a whole-user erasure forgets the snapshots instead;
2. prune with ``--max-unused 0%``: every pack holding a blob no snapshot needs any more is repacked or
   deleted, so the erased bytes (file content, and the old trees that carried the names) are in no pack;
3. check the result: no remaining snapshot of the user has any of the paths.

Box keeps a file's previous versions under ``/<login>/.box-versions/<file id>/`` when the task backs them up:
erasing a file erases its stored previous versions too (their folder is found by the file's Box id), and
its copies in the kept Box trash (``/<login>/.box-trash/``, found by Box id) in later snapshots; erasing
something in the kept trash erases it where it lived before it was trashed, in earlier snapshots.
A blob shared with a file that is *not* erased stays: it is that file's content too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from boxvault.box.restore import VERSIONS_DIR, xattr_text
from boxvault.box.trash import TRASH_DIR, trash_item, trashed_from
from boxvault.engine.repository import Repository
from boxvault.engine.snapshot import Snapshot
from boxvault.engine.tree import Node

Log = Callable[[str], None]
_SPECIAL = set("\\*?[")


def escape(path: str) -> str:
    """A literal path as a restic exclude pattern (Box names may hold * ? [ and backslashes)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in path)


def user_snapshots(repo: Repository, box_user_id: str) -> list[Snapshot]:
    return repo.list_snapshots(tags=[f"user:{box_user_id}"])


def root_of(snapshot: Snapshot) -> str:
    return (snapshot.paths[0] if snapshot.paths else "/").rstrip("/") or "/"


def _file_ids(repo: Repository, node: Node, seen: set[bytes]) -> set[str]:
    """Box ids of the node and every file below it (their previous versions are erased with them)."""
    ids: set[str] = set()
    box_id = xattr_text(node, "box.id")
    if box_id:
        ids.add(box_id)
    if node.type == "dir" and node.subtree is not None and node.subtree not in seen:
        seen.add(node.subtree)
        for child in repo.load_tree(node.subtree):
            ids |= _file_ids(repo, child, seen)
    return ids


def _matches(repo: Repository, subtree: bytes, ids: set[str], memo: dict[bytes, list[str]]) -> list[str]:
    """Paths (relative to `subtree`) of the outermost nodes whose Box id is in `ids`."""
    found = memo.get(subtree)
    if found is not None:
        return found
    found = []
    for child in repo.load_tree(subtree):
        if (xattr_text(child, "box.id") or "") in ids:
            found.append(child.name)
        elif child.type == "dir" and child.subtree is not None:
            found.extend(f"{child.name}/{rel}" for rel in _matches(repo, child.subtree, ids, memo))
    memo[subtree] = found
    return found


def _trashed_from(repo: Repository, snap: Snapshot, path: str) -> str | None:
    """For a path inside the kept Box trash (``/<login>/.box-trash/<item>/...``): where it lived before it
    was trashed (``/<login>/<original path>/...``), as earlier snapshots hold it."""
    root = root_of(snap)
    found = trash_item(path, f"{root}/{TRASH_DIR}")
    if found is None:
        return None
    original = trashed_from(repo, snap.tree, f"{root}/{TRASH_DIR}", *found)
    return f"{root}/{original}" if original else None


def targets_for(repo: Repository, snapshots: list[Snapshot], paths: list[str]) -> list[str]:
    """The literal paths to erase: each path; where a path in the kept Box trash lived before it was
    trashed; and in every snapshot, the previous-versions folder (``/<login>/.box-versions/<file id>``)
    and the copy in the kept trash (``/<login>/.box-trash/...``) of every item it names or holds."""
    patterns = set(paths)
    seen: set[bytes] = set()
    ids: set[str] = set()
    for snap in snapshots:
        for path in paths:
            node = repo.node_at(snap.tree, path)
            if node is None:
                continue
            ids |= _file_ids(repo, node, seen)
            before = _trashed_from(repo, snap, path)
            if before is not None:
                patterns.add(before)
    memo: dict[bytes, list[str]] = {}
    for snap in snapshots:
        root = root_of(snap)
        versions = repo.node_at(snap.tree, f"{root}/{VERSIONS_DIR}")
        if versions is not None and versions.subtree is not None:
            stored = {n.name for n in repo.load_tree(versions.subtree)}
            patterns |= {f"{root}/{VERSIONS_DIR}/{box_id}" for box_id in ids & stored}
        trash = repo.node_at(snap.tree, f"{root}/{TRASH_DIR}")
        if trash is not None and trash.subtree is not None and ids:
            patterns |= {f"{root}/{TRASH_DIR}/{rel}" for rel in _matches(repo, trash.subtree, ids, memo)}
    return sorted(patterns)


def stored_bytes(repo: Repository) -> int:
    """The size of every pack (a listing: nothing is read)."""
    return sum(size for _name, size in repo.backend.list("data"))


@dataclass
class Outcome:
    changes: list[dict[str, Any]] = field(default_factory=list)  # {old, new, time, removed}
    unchanged: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    packs_deleted: int = 0
    packs_written: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    targets: list[str] = field(default_factory=list)  # literal paths (requested + previous versions)

    @property
    def bytes_removed(self) -> int:
        return max(0, self.bytes_before - self.bytes_after)


def erase(repo: Repository, box_user_id: str, paths: list[str], *, whole_user: bool, log: Log) -> Outcome:
    """Steps 1 and 2 of the module's order; the caller holds the exclusive lock."""
    from boxvault.engine.forget import ExpirePolicy
    from boxvault.engine.forget_run import forget
    from boxvault.engine.prune import prune
    from boxvault.engine.rewrite import rewrite

    out = Outcome(bytes_before=stored_bytes(repo))
    snapshots = user_snapshots(repo, box_user_id)
    times = {s.id: s.datetime.isoformat() for s in snapshots}
    if whole_user:
        ids = [s.id for s in snapshots]
        if ids:
            forget(repo, ExpirePolicy(), snapshot_ids=ids, lock=False)
        out.forgotten = ids
        out.changes = [{"old": i, "new": None, "time": times[i], "removed": None} for i in ids]
        log(f"forgot all {len(ids)} snapshot(s) of the user")
    else:
        out.targets = targets_for(repo, snapshots, paths)
        patterns = [escape(t) for t in out.targets]
        result = rewrite(repo, patterns, tags=[f"user:{box_user_id}"], forget=True, lock=False)
        for change in result.changed:
            out.changes.append(
                {
                    "old": change.old_id,
                    "new": change.new_id,
                    "time": times.get(change.old_id, ""),
                    "removed": len(change.removed_paths),
                }
            )
        out.unchanged = list(result.unchanged)
        out.forgotten = list(result.forgotten)
        log(f"rewrote {len(result.changed)} snapshot(s); {len(result.unchanged)} did not hold the items")
    # --max-unused 0%: a partly used pack that still holds an erased blob is repacked, not kept
    pruned = prune(repo, lock=False, max_unused="0%")
    out.packs_deleted = len(pruned.deleted_packs)
    out.packs_written = len(pruned.new_packs)
    out.bytes_after = stored_bytes(repo)
    log(
        f"prune: {out.packs_deleted} pack(s) deleted, {out.packs_written} written, "
        f"{out.bytes_removed} bytes left storage"
    )
    return out


def still_present(repo: Repository, box_user_id: str, paths: list[str]) -> list[str]:
    """Step 3: "<snapshot>:<path>" for every path some snapshot of the user still has (should be none)."""
    found = []
    for snap in user_snapshots(repo, box_user_id):
        for path in paths:
            if repo.node_at(snap.tree, path) is not None:
                found.append(f"{snap.short_id}:{path}")
    return found
