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

from .maint_io import (
    IndexRecord,
    ObjectDamaged,
    RepoLike,
    SnapshotDoc,
    decode_blob,
    list_ids,
    load_json,
    load_snapshots,
    pack_name,
    parse_index,
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
        self.records: dict[BlobKey, list[IndexRecord]] = defaultdict(list)
        self.by_pack: dict[str, list[IndexRecord]] = defaultdict(list)
        self.stored_packs: dict[str, int] = {}
        # copies known to be bad: (blob, pack id)
        self._bad_copies: dict[BlobKey, set[str]] = defaultdict(set)
        self._tree_seen: set[bytes] = set()
        self._tree_failed: set[bytes] = set()
        self._checked: set[bytes] = set()  # trees whose structure was checked (once, whatever the snapshot)
        self.unindexed: dict[BlobKey, IndexRecord] = {}  # blobs found only in packs no index mentions

    # --- phases ------------------------------------------------------------------------------------------

    def load_snapshots(self) -> None:
        self.snapshots, errors = load_snapshots(self.repo)
        self.report.snapshots = len(self.snapshots) + len(errors)
        self.report.errors += errors

    def load_index(self) -> None:
        files = sorted(list_ids(self.repo, "index"))
        self.report.index_files = len(files)
        packs_seen: dict[str, list[str]] = defaultdict(list)
        for i, (index_id, _) in enumerate(files):
            name = f"index/{index_id}"
            try:
                records, _ = parse_index(load_json(self.repo, name), name)
            except ObjectDamaged as e:
                self.report.errors.append(f"index {index_id} is damaged: {e}")
                continue
            except Exception as e:  # noqa: BLE001 - storage errors name the object
                self.report.errors.append(f"index {index_id} cannot be read: {e}")
                continue
            for rec in records:
                self.records[(rec.kind, rec.blob_id)].append(rec)
                self.by_pack[rec.pack_id].append(rec)
            for pack_id in {r.pack_id for r in records}:
                packs_seen[pack_id].append(index_id)
            self.progress("index", i + 1, len(files))
        for pack_id, index_ids in sorted(packs_seen.items()):
            if len(index_ids) > 1:
                # normal after an interrupted prune or repair; the next prune writes a single index again
                self.report.hints.append(f"pack {pack_id} is listed by {len(index_ids)} index files")
        kinds: dict[str, set[str]] = defaultdict(set)
        for pack_id, recs in self.by_pack.items():
            for r in recs:
                kinds[pack_id].add(r.kind)
        for pack_id, ks in sorted(kinds.items()):
            if len(ks) > 1:
                self.report.hints.append(f"pack {pack_id} contains both data and tree blobs (mixed pack)")

    def check_packs(self) -> None:
        self.stored_packs = dict(list_ids(self.repo, "data"))
        self.report.packs = len(self.stored_packs)
        for pack_id, recs in sorted(self.by_pack.items()):
            # the same blob listed by two index files is one stored copy
            unique = list({(r.offset, r.length): r for r in recs}.values())
            if pack_id not in self.stored_packs:
                self.report.errors.append(
                    f"pack {pack_id} is referenced by the index but missing from storage "
                    f"({len(unique)} blobs: {_blob_list(unique)})"
                )
                for r in unique:
                    self._mark_bad(r, f"its pack {pack_id} is missing")
                continue
            expected = HEADER_OVERHEAD + sum(
                r.length + (COMPRESSED_ENTRY_SIZE if r.uncompressed_length else PLAIN_ENTRY_SIZE)
                for r in unique
            )
            actual = self.stored_packs[pack_id]
            if actual != expected:
                self.report.errors.append(
                    f"pack {pack_id}: size {actual} does not match the {expected} bytes "
                    "its index entries describe"
                )
        for pack_id in sorted(set(self.stored_packs) - set(self.by_pack)):
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
        self.report.trees = len(self._checked)

    def read_data(self, packs: dict[str, int], workers: int = 2) -> None:
        # AES, Poly1305, zstd and SHA-256 release the GIL on large buffers: two threads keep both cores busy
        total = len(packs)
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
        copies = {r.pack_id for r in self.records.get(key, ())}
        return not copies or copies <= self._bad_copies.get(key, set())

    def _load_tree(self, tree_id: bytes) -> list[Node] | None:
        """The tree's nodes, or None when no copy can be read. Nodes are not kept: a repository's trees can
        outgrow memory; each tree is read once by the structure check and again only to name damaged paths."""
        if tree_id in self._tree_failed:
            return None
        first_time = tree_id not in self._tree_seen
        self._tree_seen.add(tree_id)
        key: BlobKey = ("tree", tree_id)
        for rec in self.records.get(key, ()):
            if rec.pack_id in self._bad_copies.get(key, set()):
                continue
            try:
                return decode_tree(read_blob(self.repo, rec))
            except (ObjectDamaged, ValueError) as e:
                self._mark_bad(rec, str(e))
            except Exception as e:  # noqa: BLE001 - storage errors (missing or short pack)
                self._mark_bad(rec, f"tree {tree_id.hex()} in {pack_name(rec.pack_id)}: {e}")
        if key not in self.records:
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

    def _check_tree(self, tree_id: bytes, referrer: str) -> None:
        pending = [(tree_id, referrer)]
        visited = self._checked
        while pending:
            tid, ref = pending.pop()
            if tid in visited:
                continue
            visited.add(tid)
            nodes = self._load_tree(tid)
            if nodes is None:
                reason = self.report.damaged.get(("tree", tid), "unreadable")
                self.report.errors.append(
                    f"tree {tid.hex()} (referenced by {ref}) cannot be loaded: {reason}"
                )
                continue
            for node in nodes:
                if node.type == "file":
                    if node.content is None:
                        self.report.errors.append(f"tree {tid.hex()}: file {node.name!r} has no content list")
                        continue
                    for blob_id in node.content:
                        key: BlobKey = ("data", blob_id)
                        if key not in self.records:
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
                    if node.subtree not in visited:
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
        indexed = self.by_pack.get(pack_id, [])
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
