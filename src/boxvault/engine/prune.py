"""`prune`: drop blobs no snapshot needs, repack partly used packs, in restic's crash-safe order.

Under an exclusive lock: find the used blobs from every snapshot, plan with ``prune_plan`` (restic's rules),
then (1) delete packs that no index mentions, (2) copy the used blobs of packs to repack into new packs,
(3) write a complete new index, (4) delete the old index files, (5) delete the obsolete packs. A kill at any
point leaves a repository that restic checks clean: before (3) new packs are merely unindexed; between (3)
and (4) two indexes describe the same blobs; after (4) the old packs are merely unindexed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import EngineError
from .index import KINDS, PackRecord
from .maint_io import (
    IndexRecord,
    ObjectDamaged,
    PackBuilder,
    RepoLike,
    SnapshotDoc,
    decode_blob,
    list_ids,
    load_json,
    load_snapshots,
    pack_name,
    parse_index,
    read_blob,
    write_index,
)
from .prune_plan import BlobKey, IndexedBlob, PrunePlan, PruneRefused, plan_prune
from .tree import decode_tree

Progress = Callable[[str, int, int], None]
DEFAULT_PACK_SIZE = 16 * 2**20


class PruneError(EngineError):
    """prune refused to start or could not finish; the repository is left consistent."""


@dataclass
class LoadedIndex:
    files: list[str] = field(default_factory=list)
    records: list[IndexRecord] = field(default_factory=list)
    first: dict[BlobKey, IndexRecord] = field(default_factory=dict)
    _seen: set[tuple[str, int]] = field(default_factory=set)

    def add(self, rec: IndexRecord) -> None:
        # The same stored copy listed by two index files (a prune killed between writing its new index and
        # deleting the old ones) is one copy, not a duplicate: counting it twice would break the pack sizes.
        where = (rec.pack_id, rec.offset)
        if where in self._seen:
            return
        self._seen.add(where)
        self.records.append(rec)
        self.first.setdefault((rec.kind, rec.blob_id), rec)


def load_all_indexes(repo: RepoLike) -> LoadedIndex:
    """Every index file, every entry (duplicates included); a damaged index file is an error."""
    loaded = LoadedIndex()
    for index_id, _ in sorted(list_ids(repo, "index")):
        name = f"index/{index_id}"
        try:
            records, _ = parse_index(load_json(repo, name), name)
        except ObjectDamaged as e:
            raise PruneError(f"index {index_id} is damaged ({e}); run check, prune will not start") from e
        loaded.files.append(index_id)
        for rec in records:
            loaded.add(rec)
    return loaded


def find_used_blobs(
    repo: RepoLike, index: LoadedIndex, trees: Iterable[bytes], progress: Progress | None = None
) -> set[BlobKey]:
    """Every tree and data blob reachable from the given root trees (restic's FindUsedBlobs)."""
    used: set[BlobKey] = set()
    roots = list(trees)
    for i, root in enumerate(roots):
        pending = [root]
        while pending:
            tree_id = pending.pop()
            key: BlobKey = ("tree", tree_id)
            if key in used:
                continue
            used.add(key)
            rec = index.first.get(key)
            if rec is None:
                raise PruneError(f"tree {tree_id.hex()} is in no index; run check, prune will not start")
            try:
                nodes = decode_tree(read_blob(repo, rec))
            except (ObjectDamaged, ValueError) as e:
                raise PruneError(f"tree {tree_id.hex()} cannot be loaded ({e}); prune will not start") from e
            for node in nodes:
                if node.type == "file":
                    used.update(("data", b) for b in node.content or ())
                elif node.type == "dir" and node.subtree is not None:
                    pending.append(node.subtree)
        if progress:
            progress("snapshots", i + 1, len(roots))
    return used


@dataclass
class PruneResult:
    plan: PrunePlan
    dry_run: bool
    new_packs: list[str] = field(default_factory=list)
    new_index_files: list[str] = field(default_factory=list)
    deleted_index_files: list[str] = field(default_factory=list)
    deleted_packs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            **self.plan.to_json(),
            "new_packs": self.new_packs,
            "new_index_files": self.new_index_files,
            "deleted_index_files": self.deleted_index_files,
            "deleted_packs": len(self.deleted_packs),
        }


def plan(
    repo: RepoLike,
    *,
    ignore_snapshots: set[str] | None = None,
    max_unused: str = "5%",
    max_repack_size: int | None = None,
    repack_small: bool = False,
    repack_uncompressed: bool = False,
    pack_size: int = DEFAULT_PACK_SIZE,
    progress: Progress | None = None,
) -> tuple[PrunePlan, LoadedIndex]:
    snapshots, errors = load_snapshots(repo)
    if errors:
        raise PruneError("cannot load every snapshot, prune will not start: " + "; ".join(errors))
    index = load_all_indexes(repo)
    roots = _roots(snapshots, ignore_snapshots or set())
    used = find_used_blobs(repo, index, roots, progress)
    entries = [
        IndexedBlob(r.kind, r.blob_id, r.pack_id, r.length, bool(r.uncompressed_length))
        for r in index.records
    ]
    stored = dict(list_ids(repo, "data"))
    version = int(getattr(getattr(repo, "config", None), "version", 2))
    try:
        p = plan_prune(
            entries,
            used,
            stored,
            pack_size=pack_size,
            max_unused=max_unused,
            max_repack_bytes=max_repack_size,
            repack_small=repack_small,
            repack_uncompressed=repack_uncompressed,
            repo_version=version,
        )
    except PruneRefused as e:
        raise PruneError(str(e)) from e
    return p, index


def _roots(snapshots: list[SnapshotDoc], ignore: set[str]) -> list[bytes]:
    roots = []
    for sn in snapshots:
        if sn.id in ignore:
            continue
        if sn.tree is None:
            raise PruneError(f"snapshot {sn.short_id} has no tree; prune will not start")
        roots.append(sn.tree)
    return roots


def execute(
    repo: RepoLike,
    p: PrunePlan,
    index: LoadedIndex,
    *,
    pack_size: int = DEFAULT_PACK_SIZE,
    progress: Progress | None = None,
) -> PruneResult:
    result = PruneResult(p, dry_run=False)
    if p.changes_nothing:
        return result
    # (1) packs in no index: no reader can reach them, so they go first
    for pack_id in sorted(p.remove_first):
        repo.backend.delete(pack_name(pack_id))
        result.deleted_packs.append(pack_id)

    gone = p.remove | p.repack | p.ignore | p.remove_first
    # a used blob needs copying only when no kept pack holds a copy of it
    kept_elsewhere = {(r.kind, r.blob_id) for r in index.records if r.pack_id not in gone}
    to_copy = {k for k in p.keep_blobs if k not in kept_elsewhere}

    # (2) repack
    builder = PackBuilder(repo, pack_size)
    compress_trees = int(getattr(getattr(repo, "config", None), "version", 2)) >= 2
    by_pack: dict[str, list[IndexRecord]] = defaultdict(list)
    for r in index.records:
        if r.pack_id in p.repack:
            by_pack[r.pack_id].append(r)
    for i, pack_id in enumerate(sorted(by_pack)):
        wanted = [r for r in by_pack[pack_id] if (r.kind, r.blob_id) in to_copy]
        if wanted:
            data = repo.backend.read(pack_name(pack_id))
            for r in sorted(wanted, key=lambda r: r.offset):
                key = (r.kind, r.blob_id)
                if key not in to_copy:
                    continue  # a duplicate within the repacked packs, already copied
                raw = data[r.offset : r.offset + r.length]
                try:
                    # verify before copying: a damaged blob must not be laundered into a fresh pack
                    plain = decode_blob(
                        repo.key, r.kind, r.blob_id, raw, r.uncompressed_length, pack_name(pack_id)
                    )
                except ObjectDamaged as e:
                    raise PruneError(f"cannot repack: {e}; nothing was deleted") from e
                if compress_trees and r.kind == "tree" and not r.uncompressed_length:
                    builder.add_plain("tree", plain, always=True)
                else:
                    builder.add_encrypted(r.kind, r.blob_id, raw, r.uncompressed_length)
                to_copy.discard(key)
        if progress:
            progress("repack", i + 1, len(by_pack))
    if to_copy:
        raise PruneError(
            f"{len(to_copy)} used blob(s) were not found in the packs to repack; nothing was deleted"
        )
    new_packs = builder.finish()
    result.new_packs = [pk.pack_id.hex() for pk in new_packs]

    # (3) the complete new index: kept packs as they are, plus the new packs
    records: dict[str, dict[tuple[str, bytes, int], IndexRecord]] = defaultdict(dict)
    for r in index.records:
        if r.pack_id not in gone:
            records[r.pack_id][(r.kind, r.blob_id, r.offset)] = r
    packs = [
        PackRecord(
            bytes.fromhex(pack_id),
            [
                (KINDS.index(r.kind), r.blob_id, r.offset, r.length, r.uncompressed_length)
                for r in sorted(recs.values(), key=lambda r: r.offset)
            ],
        )
        for pack_id, recs in sorted(records.items())
    ]
    result.new_index_files = write_index(repo, packs + new_packs, supersedes=index.files)

    # (4) old index files, (5) obsolete packs
    for index_id in index.files:
        if index_id not in result.new_index_files:
            repo.backend.delete(f"index/{index_id}")
            result.deleted_index_files.append(index_id)
    obsolete = sorted(p.remove | p.repack)
    for i, pack_id in enumerate(obsolete):
        repo.backend.delete(pack_name(pack_id))
        result.deleted_packs.append(pack_id)
        if progress:
            progress("delete", i + 1, len(obsolete))
    return result


def prune(
    repo: Any,
    *,
    dry_run: bool = False,
    lock: bool = True,
    ignore_snapshots: set[str] | None = None,
    max_unused: str = "5%",
    max_repack_size: int | None = None,
    repack_small: bool = False,
    repack_uncompressed: bool = False,
    pack_size: int = DEFAULT_PACK_SIZE,
    progress: Progress | None = None,
) -> PruneResult:
    """Plan and (unless ``dry_run``) carry out a prune; ``lock=False``: the caller holds an exclusive lock."""

    def run() -> PruneResult:
        p, index = plan(
            repo,
            ignore_snapshots=ignore_snapshots,
            max_unused=max_unused,
            max_repack_size=max_repack_size,
            repack_small=repack_small,
            repack_uncompressed=repack_uncompressed,
            pack_size=pack_size,
            progress=progress,
        )
        if dry_run:
            return PruneResult(p, dry_run=True)
        return execute(repo, p, index, pack_size=pack_size, progress=progress)

    if not lock:
        return run()
    with repo.lock(exclusive=True):
        return run()
