"""`prune`: drop blobs no snapshot needs, repack partly used packs, in restic's crash-safe order.

Under an exclusive lock: find the used blobs from every snapshot, plan with ``prune_plan`` (restic's rules),
then (1) delete packs that no index mentions, (2) copy the used blobs of packs to repack into new packs,
(3) write a complete new index, (4) delete the old index files, (5) delete the obsolete packs. A kill at any
point leaves a repository that restic checks clean: before (3) new packs are merely unindexed; between (3)
and (4) two indexes describe the same blobs; after (4) the old packs are merely unindexed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from .blobtable import BlobTable, Mask
from .errors import EngineError
from .index import PackRecord
from .maint_io import (
    ObjectDamaged,
    PackBuilder,
    RepoLike,
    SnapshotDoc,
    decode_blob,
    list_ids,
    load_snapshots,
    pack_name,
    read_blob,
    write_index,
)
from .prune_plan import BlobKey, PrunePlan, PruneRefused, plan_table, refuse_missing
from .storage.objectlock import check_deletable
from .tree import decode_tree

Progress = Callable[[str, int, int], None]
DEFAULT_PACK_SIZE = 16 * 2**20


class PruneError(EngineError):
    """prune refused to start or could not finish; the repository is left consistent."""


LoadedIndex = BlobTable  # every index file's entries (duplicates included), compactly


def load_all_indexes(repo: RepoLike) -> BlobTable:
    """Every index file, every entry (duplicates included); a damaged index file is an error."""

    def refuse(index_id: str, e: Exception) -> None:
        if isinstance(e, ObjectDamaged):
            raise PruneError(f"index {index_id} is damaged ({e}); run check, prune will not start") from e
        raise e

    return BlobTable.load(repo, refuse)


def find_used_blobs(
    repo: RepoLike, index: BlobTable, trees: Iterable[bytes], progress: Progress | None = None
) -> Mask:
    """Every tree and data blob reachable from the given root trees (restic's FindUsedBlobs), as a mask
    over the index rows (the first copy of each used blob): one byte a blob, whatever the repository."""
    used = np.zeros(len(index), dtype=np.bool_)
    missing: set[BlobKey] = set()
    roots = list(trees)
    for i, root in enumerate(roots):
        pending = [root]
        while pending:
            tree_id = pending.pop()
            pos = index.find_one("tree", tree_id)
            if pos < 0:
                raise PruneError(f"tree {tree_id.hex()} is in no index; run check, prune will not start")
            if used[pos]:
                continue
            used[pos] = True
            try:
                nodes = decode_tree(read_blob(repo, index.record(pos)))
            except (ObjectDamaged, ValueError) as e:
                raise PruneError(f"tree {tree_id.hex()} cannot be loaded ({e}); prune will not start") from e
            content: list[bytes] = []
            for node in nodes:
                if node.type == "file":
                    content += node.content or ()
                elif node.type == "dir" and node.subtree is not None:
                    pending.append(node.subtree)
            found = index.find("data", content)
            used[found[found >= 0]] = True
            if len(missing) < 1000:
                missing.update(("data", content[j]) for j in np.flatnonzero(found < 0).tolist())
        if progress:
            progress("snapshots", i + 1, len(roots))
    if missing:
        try:
            refuse_missing(sorted(missing))
        except PruneRefused as e:
            raise PruneError(str(e)) from e
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
    stored = dict(list_ids(repo, "data"))
    version = int(getattr(getattr(repo, "config", None), "version", 2))
    try:
        p = plan_table(
            index,
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
    # Object lock: every object this prune would delete is checked before the first write or delete, so a
    # refusal (naming the retain-until date) leaves the repository exactly as it was.
    check_deletable(
        repo.backend,
        [pack_name(pid) for pid in sorted(p.remove_first | p.remove | p.repack)]
        + [f"index/{index_id}" for index_id in index.files],
    )
    # (1) packs in no index: no reader can reach them, so they go first
    for pack_id in sorted(p.remove_first):
        repo.backend.delete(pack_name(pack_id))
        result.deleted_packs.append(pack_id)

    table = index
    gone = p.remove | p.repack | p.ignore | p.remove_first
    gone_pack = np.array([pid in gone for pid in table.pack_ids], dtype=np.bool_)
    repack_pack = np.array([pid in p.repack for pid in table.pack_ids], dtype=np.bool_)
    # a used blob needs copying only when no kept pack holds a copy of it: marked on its key's first row
    to_copy = _to_copy(table, p.keep, gone_pack)

    # (2) repack, pack by pack in id order, each pack's blobs in offset order
    builder = PackBuilder(repo, pack_size)
    compress_trees = int(getattr(getattr(repo, "config", None), "version", 2)) >= 2
    perm, starts = table.by_pack(repack_pack)
    order = sorted(np.flatnonzero(repack_pack).tolist(), key=lambda no: table.pack_ids[no])
    for i, no in enumerate(order):
        pack_id = table.pack_ids[no]
        rows = perm[starts[no] : starts[no + 1]].astype(np.intp)
        firsts = table.first_of(rows)
        wanted = [(int(r), int(f)) for r, f in zip(rows.tolist(), firsts.tolist(), strict=True) if to_copy[f]]
        if wanted:
            data = repo.backend.read(pack_name(pack_id))
            for r_pos, first in sorted(wanted, key=lambda w: int(table.rows[w[0]]["off"])):
                if not to_copy[first]:
                    continue  # a duplicate within the repacked packs, already copied
                r = table.record(r_pos)
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
                to_copy[first] = False
        if progress:
            progress("repack", i + 1, len(order))
    left = int(to_copy.sum())
    if left:
        raise PruneError(f"{left} used blob(s) were not found in the packs to repack; nothing was deleted")
    del perm
    new_packs = builder.finish()
    result.new_packs = [pk.pack_id.hex() for pk in new_packs]

    # (3) the complete new index: kept packs as they are, plus the new packs; streamed, one pack at a time
    kept = ~gone_pack
    perm, starts = table.by_pack(kept)
    kept_order = sorted(np.flatnonzero(kept).tolist(), key=lambda no: table.pack_ids[no])

    def kept_packs() -> Iterator[PackRecord]:
        for no in kept_order:
            rows = table.rows[perm[starts[no] : starts[no + 1]].astype(np.intp)]
            rows = rows[np.argsort(rows["off"], kind="stable")]
            is_tree = (rows["pk"] >> np.uint32(31)).tolist()
            yield PackRecord(
                bytes.fromhex(table.pack_ids[no]),
                [
                    (kind, bytes(blob_id), off, length, ulen)
                    for kind, blob_id, off, length, ulen in zip(
                        is_tree,
                        rows["id"],
                        rows["off"].tolist(),
                        rows["len"].tolist(),
                        rows["ulen"].tolist(),
                        strict=True,
                    )
                ],
            )

    result.new_index_files = write_index(repo, chain(kept_packs(), new_packs), supersedes=table.files)
    files = table.files

    # (4) old index files, (5) obsolete packs
    for index_id in files:
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


def _to_copy(table: BlobTable, keep: Mask, gone_pack: Mask) -> Mask:
    """First rows of the used keys none of whose copies is in a kept pack."""
    to_copy = keep.copy()
    n = len(table)
    for s, e in table.chunks():
        in_kept = ~gone_pack[table.packs_of(s, e)]
        if not in_kept.any():
            continue
        starts = table.key_starts(s, e)
        nxt = table.key_starts(e, e + 1)[:1] if e < n else np.ones(1, dtype=np.bool_)
        single = starts & np.r_[starts[1:], nxt]
        to_copy[s:e][single & in_kept] = False
        multi = np.flatnonzero(~single & in_kept) + s
        if len(multi):
            to_copy[table.first_of(multi)] = False
    return to_copy


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
