"""`check`: verify a repository without changing it (restic's internal/checker, plus damage attribution).

Order as restic: snapshots, every index file, every pack's presence and size, the structure (every tree of
every snapshot loads, hashes to its id and decodes; every file's blobs are indexed), then optionally the data
(every selected pack is read whole: its id, header, every blob's MAC and hash). Unlike restic, every damaged
blob is then traced to the snapshots and file paths that need it, so an operator knows exactly what is lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .blobtable import BlobTable
from .maint_io import (
    IndexRecord,
    ObjectDamaged,
    RepoLike,
    SnapshotDoc,
    decode_blob,
    list_ids,
    load_snapshots,
    pack_name,
    read_blob,
)
from .pack import TAIL_READ, PackError, read_header
from .prune_plan import COMPRESSED_ENTRY_SIZE, HEADER_OVERHEAD, PLAIN_ENTRY_SIZE, parse_size
from .tree import Node, decode_tree

BlobKey = tuple[str, bytes]
Progress = Callable[[str, int, int], None]  # (phase, done, total)


class CheckOptionError(ValueError):
    """A --read-data-subset value that cannot be understood."""


@dataclass
class Affected:
    snapshot: str
    path: str
    blob: str
    kind: str


@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    damaged: dict[BlobKey, str] = field(default_factory=dict)  # blob -> first reason
    affected: list[Affected] = field(default_factory=list)
    snapshots: int = 0
    index_files: int = 0
    packs: int = 0
    trees: int = 0
    packs_read: int = 0
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def damaged_paths(self) -> dict[str, list[str]]:
        """snapshot id -> sorted paths that cannot be restored intact."""
        out: dict[str, set[str]] = defaultdict(set)
        for a in self.affected:
            out[a.snapshot].add(a.path)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "hints": self.hints,
            "damaged_blobs": [
                {"type": kind, "id": blob_id.hex(), "reason": reason}
                for (kind, blob_id), reason in sorted(self.damaged.items())
            ],
            "affected": [
                {"snapshot": a.snapshot, "path": a.path, "blob": a.blob, "type": a.kind}
                for a in self.affected
            ],
            "snapshots": self.snapshots,
            "index_files": self.index_files,
            "packs": self.packs,
            "trees": self.trees,
            "packs_read": self.packs_read,
            "bytes_read": self.bytes_read,
        }


def select_subset(packs: dict[str, int], subset: str, rng: random.Random | None = None) -> dict[str, int]:
    """restic's --read-data-subset: `n/t` (first id byte mod t is n-1), `x%` or a size like `50M`."""
    rng = rng or random.Random()  # sampling, not security
    text = subset.strip()
    m = re.fullmatch(r"(\d+)/(\d+)", text)
    if m:
        n, t = int(m.group(1)), int(m.group(2))
        if t < 1 or n < 1 or n > t:
            raise CheckOptionError(f"--read-data-subset {text}: need 1 <= n <= t")
        return {p: s for p, s in packs.items() if int(p[:2], 16) % t == n - 1}
    if text.endswith("%"):
        try:
            pct = float(text[:-1])
        except ValueError:
            raise CheckOptionError(f"--read-data-subset {text}: invalid percentage") from None
        if not 0 < pct <= 100:
            raise CheckOptionError(f"--read-data-subset {text}: percentage must be in (0, 100]")
        count = max(1, round(len(packs) * pct / 100)) if packs else 0
        chosen = rng.sample(sorted(packs), count)
        return {p: packs[p] for p in chosen}
    try:
        wanted = parse_size(text)
    except ValueError:
        raise CheckOptionError(f"--read-data-subset {text}: use n/t, x% or a size such as 50M") from None
    order = sorted(packs)
    rng.shuffle(order)
    chosen_packs: dict[str, int] = {}
    total = 0
    for p in order:
        if total >= wanted:
            break
        chosen_packs[p] = packs[p]
        total += packs[p]
    return chosen_packs


class Checker:
    def __init__(self, repo: RepoLike, progress: Progress | None = None) -> None:
        self.repo = repo
        self.report = CheckReport()
        self.progress = progress or (lambda phase, done, total: None)
        self.snapshots: list[SnapshotDoc] = []
        # every index entry, 48 bytes a blob (see blobtable); per-blob state is a byte mask over its rows
        self.table = BlobTable()
        self.stored_packs: dict[str, int] = {}
        # copies known to be bad: (blob, pack id)
        self._bad_copies: dict[BlobKey, set[str]] = defaultdict(set)
        self._tree_seen: set[bytes] = set()  # trees in no index that were looked for
        self._tree_failed: set[bytes] = set()
        # trees whose structure was checked (once, whatever the snapshot): indexed ones by row, others by id
        self._checked = np.zeros(0, dtype=np.bool_)
        self._checked_unindexed: set[bytes] = set()
        self._by_pack: tuple[Any, Any] | None = None
        self.unindexed: dict[BlobKey, IndexRecord] = {}  # blobs found only in packs no index mentions

    # --- phases ------------------------------------------------------------------------------------------

    def load_snapshots(self) -> None:
        self.snapshots, errors = load_snapshots(self.repo)
        self.report.snapshots = len(self.snapshots) + len(errors)
        self.report.errors += errors

    def load_index(self) -> None:
        def damaged(index_id: str, e: Exception) -> None:
            if isinstance(e, ObjectDamaged):
                self.report.errors.append(f"index {index_id} is damaged: {e}")
            else:  # storage errors name the object
                self.report.errors.append(f"index {index_id} cannot be read: {e}")

        self.report.index_files = len(list(list_ids(self.repo, "index")))
        self.table = table = BlobTable.load(
            self.repo, damaged, lambda done, total: self.progress("index", done, total)
        )
        self._checked = np.zeros(len(table), dtype=np.bool_)
        npk = len(table.pack_ids)
        kinds = np.zeros((2, npk), dtype=np.bool_)
        for s, e in table.chunks():
            packs = table.packs_of(s, e)
            is_tree = (table.rows["pk"][s:e] >> np.uint32(31)).astype(np.bool_)
            kinds[0] |= np.bincount(packs, weights=~is_tree, minlength=npk) > 0
            kinds[1] |= np.bincount(packs, weights=is_tree, minlength=npk) > 0
        order = sorted(range(npk), key=lambda no: table.pack_ids[no])
        for no in order:
            if table.pack_files[no] > 1:
                # normal after an interrupted prune or repair; the next prune writes a single index again
                self.report.hints.append(
                    f"pack {table.pack_ids[no]} is listed by {table.pack_files[no]} index files"
                )
        for no in order:
            if kinds[0, no] and kinds[1, no]:
                self.report.hints.append(
                    f"pack {table.pack_ids[no]} contains both data and tree blobs (mixed pack)"
                )

    def pack_records(self, no: int) -> list[IndexRecord]:
        """The index entries of one pack (by pack number), in offset order."""
        if self._by_pack is None:
            self._by_pack = self.table.by_pack()
        perm, starts = self._by_pack
        recs = [self.table.record(int(p)) for p in perm[starts[no] : starts[no + 1]]]
        return sorted(recs, key=lambda r: r.offset)

    def check_packs(self) -> None:
        self.stored_packs = dict(list_ids(self.repo, "data"))
        self.report.packs = len(self.stored_packs)
        table = self.table
        npk = len(table.pack_ids)
        expected = np.full(npk, float(HEADER_OVERHEAD))
        for s, e in table.chunks():
            rows = table.rows[s:e]
            entry = np.where(rows["ulen"] != 0, COMPRESSED_ENTRY_SIZE, PLAIN_ENTRY_SIZE)
            expected += np.bincount(table.packs_of(s, e), weights=rows["len"] + entry, minlength=npk)
        for no in sorted(range(npk), key=lambda no: table.pack_ids[no]):
            pack_id = table.pack_ids[no]
            if pack_id not in self.stored_packs:
                unique = self.pack_records(no)
                self.report.errors.append(
                    f"pack {pack_id} is referenced by the index but missing from storage "
                    f"({len(unique)} blobs: {_blob_list(unique)})"
                )
                for r in unique:
                    self._mark_bad(r, f"its pack {pack_id} is missing")
                continue
            actual = self.stored_packs[pack_id]
            if actual != int(expected[no]):
                self.report.errors.append(
                    f"pack {pack_id}: size {actual} does not match the {int(expected[no])} bytes "
                    "its index entries describe"
                )
        for pack_id in sorted(set(self.stored_packs) - set(table.pack_ids)):
            self.report.hints.append(f"pack {pack_id} is not referenced in any index (prune removes it)")
            self._read_unindexed_header(pack_id)

    def _read_unindexed_header(self, pack_id: str) -> None:
        """Learn what an unindexed pack holds, so trees lost with a damaged index can still be walked and
        the files below them named (the blobs stay reported as not indexed: restore cannot find them)."""
        name = pack_name(pack_id)
        size = self.stored_packs[pack_id]
        try:
            tail = self.repo.backend.read(name, max(0, size - TAIL_READ), min(size, TAIL_READ))
            blobs, needed = read_header(self.repo.key, tail, size)
            if not blobs and needed > len(tail):
                tail = self.repo.backend.read(name, size - needed, needed)
                blobs, _ = read_header(self.repo.key, tail, size)
        except Exception:  # noqa: BLE001 - an unreadable orphan is only a hint
            return
        for b in blobs:
            kind = "data" if b.kind == 0 else "tree"
            self.unindexed.setdefault(
                (kind, b.blob_id),
                IndexRecord(kind, b.blob_id, pack_id, b.offset, b.length, b.uncompressed_length),
            )

    def check_structure(self) -> None:
        total = len(self.snapshots)
        for i, sn in enumerate(self.snapshots):
            tree = sn.tree
            if tree is None:
                self.report.errors.append(f"snapshot {sn.short_id} has no tree")
                continue
            self._check_tree(tree, f"snapshot {sn.short_id}")
            self.progress("snapshots", i + 1, total)
        self.report.trees = int(self._checked.sum()) + len(self._checked_unindexed)

    def read_data(self, packs: dict[str, int], workers: int = 2) -> None:
        # AES, Poly1305, zstd and SHA-256 release the GIL on large buffers: two threads keep both cores busy
        total = len(packs)
        if self._by_pack is None:
            self._by_pack = self.table.by_pack()  # before the threads, which share it
        with ThreadPoolExecutor(workers) as pool:
            verdicts = pool.map(lambda item: self._read_pack(*item), sorted(packs.items()))
            for i, v in enumerate(verdicts):
                self.report.packs_read += v.read
                self.report.bytes_read += v.bytes_read
                self.report.errors += v.errors
                for rec, reason in v.bad:
                    self._mark_bad(rec, reason)
                self.progress("read data", i + 1, total)

    def attribute(self) -> None:
        """Trace every damaged blob (every copy bad) to the snapshots and paths that need it."""
        lost = {k for k in self.report.damaged if self._all_copies_bad(k)}
        if not lost:
            return
        memo: dict[bytes, list[tuple[str, str, bytes]]] = {}
        for sn in self.snapshots:
            if sn.tree is None:
                continue
            if ("tree", sn.tree) in lost:
                # nothing of this snapshot can be restored until the tree is readable again
                self.report.affected.append(Affected(sn.id, "/", sn.tree.hex(), "tree"))
            for rel, kind, blob_id in self._affected_in(sn.tree, lost, memo):
                self.report.affected.append(Affected(sn.id, rel, blob_id.hex(), kind))

    # --- helpers -----------------------------------------------------------------------------------------

    def _mark_bad(self, rec: IndexRecord, reason: str) -> None:
        key = (rec.kind, rec.blob_id)
        self._bad_copies[key].add(rec.pack_id)
        self.report.damaged.setdefault(key, reason)

    def _all_copies_bad(self, key: BlobKey) -> bool:
        copies = {r.pack_id for r in self.table.records(*key)}
        return not copies or copies <= self._bad_copies.get(key, set())

    def _load_tree(self, tree_id: bytes) -> list[Node] | None:
        """The tree's nodes, or None when no copy can be read. Nodes are not kept: a repository's trees can
        outgrow memory; each tree is read once by the structure check and again only to name damaged paths."""
        if tree_id in self._tree_failed:
            return None
        key: BlobKey = ("tree", tree_id)
        records = self.table.records("tree", tree_id)
        for rec in records:
            if rec.pack_id in self._bad_copies.get(key, set()):
                continue
            try:
                return decode_tree(read_blob(self.repo, rec))
            except (ObjectDamaged, ValueError) as e:
                self._mark_bad(rec, str(e))
            except Exception as e:  # noqa: BLE001 - storage errors (missing or short pack)
                self._mark_bad(rec, f"tree {tree_id.hex()} in {pack_name(rec.pack_id)}: {e}")
        if not records:
            first_time = tree_id not in self._tree_seen
            self._tree_seen.add(tree_id)
            orphan = self.unindexed.get(key)
            where = f" (its content is in unindexed pack {orphan.pack_id})" if orphan else ""
            self.report.damaged.setdefault(key, "not in any index" + where)
            if orphan is not None:
                if first_time:
                    self.report.errors.append(f"tree {tree_id.hex()} not found in index{where}")
                # still walk it: the files below are named precisely, and their blobs checked
                with contextlib.suppress(Exception):  # best effort: it only helps to name paths
                    return decode_tree(read_blob(self.repo, orphan))
        self._tree_failed.add(tree_id)
        return None

    def _visit(self, tree_id: bytes) -> bool:
        """Mark a tree as checked; False when it was already."""
        pos = self.table.find_one("tree", tree_id)
        if pos < 0:
            if tree_id in self._checked_unindexed:
                return False
            self._checked_unindexed.add(tree_id)
            return True
        if self._checked[pos]:
            return False
        self._checked[pos] = True
        return True

    def _check_tree(self, tree_id: bytes, referrer: str) -> None:
        pending = [(tree_id, referrer)]
        while pending:
            tid, ref = pending.pop()
            if not self._visit(tid):
                continue
            nodes = self._load_tree(tid)
            if nodes is None:
                reason = self.report.damaged.get(("tree", tid), "unreadable")
                self.report.errors.append(
                    f"tree {tid.hex()} (referenced by {ref}) cannot be loaded: {reason}"
                )
                continue
            # every file's blobs looked up at once (a vectorised search of the sorted index)
            content = [b for node in nodes if node.type == "file" for b in node.content or ()]
            found = self.table.find("data", content)
            missing = {content[j] for j in np.flatnonzero(found < 0).tolist()}
            for node in nodes:
                if node.type == "file":
                    if node.content is None:
                        self.report.errors.append(f"tree {tid.hex()}: file {node.name!r} has no content list")
                        continue
                    for blob_id in node.content:
                        if blob_id not in missing:
                            continue
                        key: BlobKey = ("data", blob_id)
                        orphan = self.unindexed.get(key)
                        where = f" (its content is in unindexed pack {orphan.pack_id})" if orphan else ""
                        self.report.damaged.setdefault(key, "not in any index" + where)
                        self.report.errors.append(
                            f"tree {tid.hex()}: file {node.name!r} blob {blob_id.hex()} "
                            f"not found in index{where}"
                        )
                elif node.type == "dir":
                    if node.subtree is None:
                        self.report.errors.append(f"tree {tid.hex()}: dir {node.name!r} subtree is missing")
                        continue
                    pending.append((node.subtree, f"dir {node.name!r} of tree {tid.hex()[:8]}"))

    def _affected_in(
        self, tree_id: bytes, lost: set[BlobKey], memo: dict[bytes, list[tuple[str, str, bytes]]]
    ) -> list[tuple[str, str, bytes]]:
        """Paths below this tree (absolute from it, '/'-separated) that need a lost blob."""
        if tree_id in memo:
            return memo[tree_id]
        memo[tree_id] = []  # guards against cycles
        nodes = self._load_tree(tree_id)
        out: list[tuple[str, str, bytes]] = []
        for node in nodes or ():
            path = "/" + node.name
            if node.type == "file":
                for blob_id in node.content or ():
                    if ("data", blob_id) in lost:
                        out.append((path, "data", blob_id))
                        break
            elif node.type == "dir" and node.subtree is not None:
                if ("tree", node.subtree) in lost:
                    out.append((path, "tree", node.subtree))
                out += [(path + sub, kind, b) for sub, kind, b in self._affected_in(node.subtree, lost, memo)]
        memo[tree_id] = out
        return out

    def _read_pack(self, pack_id: str, size: int) -> _PackVerdict:
        """Verify one pack; touches no shared state, so several packs are read in parallel."""
        v = _PackVerdict()
        name = pack_name(pack_id)
        no = self.table.pack_no(pack_id)
        indexed = [] if no is None else self.pack_records(no)
        try:
            data = self.repo.backend.read(name)
        except Exception as e:  # noqa: BLE001
            v.errors.append(f"pack {pack_id} cannot be read: {e}")
            v.bad += [(r, f"its pack {pack_id} cannot be read") for r in indexed]
            return v
        v.read = True
        v.bytes_read = len(data)
        if hashlib.sha256(data).hexdigest() != pack_id:
            v.errors.append(f"pack {pack_id}: content does not match its id (damaged)")
        header: dict[tuple[str, bytes], tuple[int, int, int]] = {}
        try:
            blobs, _ = read_header(self.repo.key, data, len(data))
            for b in blobs:
                kind = "data" if b.kind == 0 else "tree"
                header[(kind, b.blob_id)] = (b.offset, b.length, b.uncompressed_length)
        except PackError as e:
            v.errors.append(f"pack {pack_id}: header is damaged: {e}")
        checked: set[tuple[int, int]] = set()
        for r in indexed:
            key = (r.kind, r.blob_id)
            if header and header.get(key) != (r.offset, r.length, r.uncompressed_length):
                v.errors.append(
                    f"pack {pack_id}: {r.kind} blob {r.blob_id.hex()} is in the index "
                    "but not in the pack header"
                )
            if (r.offset, r.length) in checked:
                continue
            checked.add((r.offset, r.length))
            raw = data[r.offset : r.offset + r.length]
            try:
                if len(raw) != r.length:
                    raise ObjectDamaged(f"{r.kind} blob {r.blob_id.hex()} in {name}: pack is truncated")
                decode_blob(self.repo.key, r.kind, r.blob_id, raw, r.uncompressed_length, name)
            except ObjectDamaged as e:
                v.errors.append(f"pack {pack_id}: {e}")
                v.bad.append((r, str(e)))
        return v


@dataclass
class _PackVerdict:
    read: bool = False
    bytes_read: int = 0
    errors: list[str] = field(default_factory=list)
    bad: list[tuple[IndexRecord, str]] = field(default_factory=list)


def _blob_list(records: Iterable[IndexRecord], limit: int = 10) -> str:
    items = [f"{r.kind} {r.blob_id.hex()}" for r in records]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def check(
    repo: RepoLike,
    *,
    read_data: bool = False,
    read_data_subset: str | None = None,
    progress: Progress | None = None,
    rng: random.Random | None = None,
) -> CheckReport:
    """Run every check; nothing in the repository is modified."""
    c = Checker(repo, progress)
    c.load_snapshots()
    c.load_index()
    c.check_packs()
    c.check_structure()
    if read_data or read_data_subset:
        packs = c.stored_packs
        if read_data_subset and not read_data:
            packs = select_subset(packs, read_data_subset, rng)
        c.read_data(packs)
    c.attribute()
    return c.report
