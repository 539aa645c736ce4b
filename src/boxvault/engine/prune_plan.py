"""Which packs prune removes, repacks or keeps: restic's decision rules (cmd_prune.go) as pure functions.

Inputs are the index entries, the set of blobs still referenced by some snapshot and the pack files found in
storage; the output is a plan that ``prune.py`` carries out. Keeping the decision pure makes it testable with
hand-made indexes and keeps the crash-safe execution order in one small place.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .blobtable import PACK_MASK, BlobTable, Mask, Positions

# restic pack format (design.rst, "Pack Format"): a header entry is type(1) + length(4) + id(32), plus the
# uncompressed length(4) for a compressed blob; the header is encrypted (IV 16 + MAC 16) and followed by its
# 4-byte length.
PLAIN_ENTRY_SIZE = 1 + 4 + 32
COMPRESSED_ENTRY_SIZE = 1 + 4 + 4 + 32
HEADER_OVERHEAD = 16 + 16 + 4

BlobKey = tuple[str, bytes]  # (kind, id): restic's BlobHandle, "data" or "tree"


class PruneOptionError(ValueError):
    """An option such as --max-unused that cannot be understood."""


@dataclass(frozen=True)
class IndexedBlob:
    """One index entry. The same blob may be stored in several packs (duplicates after a crash or a race)."""

    kind: str
    blob_id: bytes
    pack_id: str
    length: int
    compressed: bool

    @property
    def key(self) -> BlobKey:
        return (self.kind, self.blob_id)


def parse_size(text: str) -> int:
    """restic's size strings: a number with an optional b/k/m/g/t suffix (powers of 1024)."""
    text = text.strip()
    if not text:
        raise PruneOptionError("expected a size, got an empty string")
    units = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
    unit = units.get(text[-1].lower())
    number = text[:-1] if unit is not None else text
    try:
        value = int(number)
    except ValueError:
        raise PruneOptionError(f"invalid size {text!r}") from None
    return value * (unit or 1)


def parse_max_unused(text: str) -> Callable[[int], float]:
    """`--max-unused`: 'unlimited', a percentage of the *total* after prune (like restic), or bytes."""
    text = text.strip()
    if not text:
        raise PruneOptionError("invalid value for --max-unused: ''")
    if text == "unlimited":
        return lambda used: math.inf
    if text.endswith("%"):
        try:
            p = float(text[:-1])
        except ValueError:
            raise PruneOptionError(f"invalid percentage {text!r} passed for --max-unused") from None
        if p < 0:
            raise PruneOptionError("percentage for --max-unused must be positive")
        if p >= 100:
            raise PruneOptionError("percentage for --max-unused must be below 100%")
        # p% of the total means p/(100-p) of the used part.
        return lambda used: int(p / (100 - p) * used)
    try:
        size = parse_size(text)
    except PruneOptionError:
        raise PruneOptionError(
            f"invalid value {text!r} for --max-unused: use a percentage, a size or 'unlimited'"
        ) from None
    return lambda used: size


@dataclass
class PackInfo:
    kind: str | None = None  # "data", "tree" or "mixed"
    used_size: int = 0
    unused_size: int = 0
    used_blobs: int = 0
    unused_blobs: int = 0
    uncompressed: bool = False


@dataclass
class PruneStats:
    used_blobs: int = 0
    used_size: int = 0
    duplicate_blobs: int = 0
    duplicate_size: int = 0
    unused_blobs: int = 0
    unused_size: int = 0
    remove_blobs: int = 0
    remove_size: int = 0
    repack_blobs: int = 0
    repack_size: int = 0
    repack_removed_blobs: int = 0
    repack_removed_size: int = 0
    unreferenced_packs: int = 0
    unreferenced_size: int = 0
    packs_used: int = 0
    packs_partly_used: int = 0
    packs_unused: int = 0
    packs_keep: int = 0


@dataclass
class PrunePlan:
    remove_first: set[str] = field(default_factory=set)  # in storage, in no index: nobody can use them
    remove: set[str] = field(default_factory=set)  # every blob unused
    repack: set[str] = field(default_factory=set)  # copy their used blobs to new packs, then remove
    ignore: set[str] = field(default_factory=set)  # missing from storage but unneeded: drop from the index
    table: BlobTable = field(default_factory=BlobTable)  # every index entry
    keep: Mask = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))  # first row of each used key
    stats: PruneStats = field(default_factory=PruneStats)

    @property
    def keep_blobs(self) -> set[BlobKey]:
        """The used blobs as a set (for small repositories and tests; the mask is what prune uses)."""
        return {self.table.key_at(p) for p in np.flatnonzero(self.keep).tolist()}

    @property
    def changes_nothing(self) -> bool:
        return not (self.remove_first or self.remove or self.repack or self.ignore)

    def to_json(self) -> dict[str, object]:
        s = self.stats
        return {
            "used_blobs": s.used_blobs,
            "used_size": s.used_size,
            "duplicate_blobs": s.duplicate_blobs,
            "duplicate_size": s.duplicate_size,
            "unused_blobs": s.unused_blobs,
            "unused_size": s.unused_size,
            "unreferenced_packs": sorted(self.remove_first),
            "remove_packs": sorted(self.remove),
            "repack_packs": sorted(self.repack),
            "forget_missing_packs": sorted(self.ignore),
            "remove_size": s.remove_size + s.repack_removed_size + s.unreferenced_size,
            "repack_size": s.repack_size,
        }


class PruneRefused(Exception):
    """The repository is inconsistent in a way that prune would make worse (restic refuses too)."""


def _table_from_entries(entries: Iterable[IndexedBlob]) -> BlobTable:
    """A table of hand-made entries (tests, small tools): offsets numbered per pack, only the compressed
    flag of the uncompressed length matters to the plan."""
    table = BlobTable()
    next_offset: dict[str, int] = defaultdict(int)
    rows = []
    for e in entries:
        ulen = 1 if e.compressed else 0
        rows.append((e.kind, e.blob_id, e.pack_id, next_offset[e.pack_id], e.length, ulen))
        next_offset[e.pack_id] += 1
    table.add_rows(rows)
    table.finish()
    return table


def _pack_infos(table: BlobTable, used: Mask, stats: PruneStats) -> dict[str, PackInfo]:
    """Per pack used/unused sizes and counts, computed over the table in slices (restic's rules).

    ``used`` marks the first row of every (kind, id) some snapshot needs. Keys stored more than once are
    rare (a crash, a race); their copies are decided one by one, as restic does."""
    npk = len(table.pack_ids)
    used_size = np.zeros(npk)  # float64: exact for sums below 2**53
    unused_size = np.zeros(npk)
    used_blobs = np.zeros(npk, dtype=np.int64)
    unused_blobs = np.zeros(npk, dtype=np.int64)
    has_kind = np.zeros((2, npk), dtype=np.bool_)
    uncompressed = np.zeros(npk, dtype=np.bool_)
    dup_rows: list[Positions] = []
    n = len(table)
    for s, e in table.chunks():
        rows = table.rows[s:e]
        packs = table.packs_of(s, e)
        is_tree = (rows["pk"] >> np.uint32(31)).astype(np.bool_)
        length = rows["len"].astype(np.float64)
        compressed = rows["ulen"] != 0
        u = used[s:e]
        starts = table.key_starts(s, e)
        nxt = table.key_starts(e, e + 1)[:1] if e < n else np.ones(1, dtype=np.bool_)
        single = starts & np.r_[starts[1:], nxt]
        # rows of keys stored more than once whose key is used: decided below
        multi = np.flatnonzero(~single) + s
        if len(multi):
            multi_used = used[table.first_of(multi)]
            dup_rows.append(multi[multi_used])
            deferred = np.zeros(e - s, dtype=np.bool_)
            deferred[multi[multi_used] - s] = True
        else:
            deferred = np.zeros(e - s, dtype=np.bool_)
        entry = np.where(compressed, COMPRESSED_ENTRY_SIZE, PLAIN_ENTRY_SIZE)
        used_size += np.bincount(packs, weights=entry, minlength=npk)
        is_used = u & ~deferred
        is_unused = ~u & ~deferred
        used_size += np.bincount(packs, weights=np.where(is_used, length, 0.0), minlength=npk)
        used_blobs += np.bincount(packs, weights=is_used, minlength=npk).astype(np.int64)
        unused_size += np.bincount(packs, weights=np.where(is_unused, length, 0.0), minlength=npk)
        unused_blobs += np.bincount(packs, weights=is_unused, minlength=npk).astype(np.int64)
        has_kind[0] |= np.bincount(packs, weights=~is_tree, minlength=npk) > 0
        has_kind[1] |= np.bincount(packs, weights=is_tree, minlength=npk) > 0
        uncompressed |= np.bincount(packs, weights=~compressed, minlength=npk) > 0
        stats.used_blobs += int(is_used.sum())
        stats.used_size += int(length[is_used].sum())
        stats.unused_blobs += int(is_unused.sum())
        stats.unused_size += int(length[is_unused].sum())

    # Duplicates: the first copy counts as used, the others as duplicates; then keep one copy, preferring
    # a pack that is kept anyway (has other used blobs), else the last one seen.
    dups = np.concatenate(dup_rows) if dup_rows else np.zeros(0, dtype=np.intp)
    if len(dups):
        first = table.first_of(dups)
        rows = table.rows[dups]
        lengths = rows["len"].astype(np.int64)
        is_first = first == dups
        stats.used_blobs += int(is_first.sum())
        stats.used_size += int(lengths[is_first].sum())
        stats.duplicate_blobs += int((~is_first).sum())
        stats.duplicate_size += int(lengths[~is_first].sum())
        copies = np.bincount(np.searchsorted(np.unique(first), first))
        remaining = dict(zip(np.unique(first).tolist(), copies.tolist(), strict=True))
        packs = (rows["pk"] & np.uint32(PACK_MASK)).astype(np.int64)
        # in load order: packs are numbered as index files name them, then by offset
        for i in np.lexsort((rows["off"], packs)).tolist():
            key, pack, size = int(first[i]), int(packs[i]), int(lengths[i])
            count = remaining[key]
            if count != 0 and (used_blobs[pack] > 0 or count == 1):
                used_size[pack] += size
                used_blobs[pack] += 1
                remaining[key] = 0
            else:
                unused_size[pack] += size
                unused_blobs[pack] += 1
                if count:
                    remaining[key] = count - 1

    out: dict[str, PackInfo] = {}
    present = has_kind[0] | has_kind[1]
    for no in np.flatnonzero(present).tolist():
        kind = "mixed" if has_kind[0, no] and has_kind[1, no] else ("tree" if has_kind[1, no] else "data")
        out[table.pack_ids[no]] = PackInfo(
            kind=kind,
            used_size=HEADER_OVERHEAD + int(used_size[no]),
            unused_size=int(unused_size[no]),
            used_blobs=int(used_blobs[no]),
            unused_blobs=int(unused_blobs[no]),
            uncompressed=bool(uncompressed[no]),
        )
    return out


def used_mask(table: BlobTable, used: set[BlobKey]) -> Mask:
    """The first row of every used key; keys in no index make prune refuse, as restic does."""
    mask = np.zeros(len(table), dtype=np.bool_)
    missing: list[BlobKey] = []
    for kind in ("data", "tree"):
        ids = [i for k, i in used if k == kind]
        pos = table.find(kind, ids)
        mask[pos[pos >= 0]] = True
        missing += [(kind, ids[j]) for j in np.flatnonzero(pos < 0).tolist()]
    if missing:
        refuse_missing(missing)
    return mask


def refuse_missing(missing: list[BlobKey]) -> None:
    listing = ", ".join(f"{k} {i.hex()}" for k, i in sorted(missing)[:20])
    raise PruneRefused(
        f"{len(missing)} blob(s) used by snapshots are in no index ({listing}); "
        "data seems to be missing, prune will not start"
    )


def plan_prune(
    entries: Iterable[IndexedBlob],
    used: set[BlobKey],
    stored_packs: Mapping[str, int],
    **options: Any,
) -> PrunePlan:
    """``plan_table`` for hand-made entries and a set of used keys."""
    table = _table_from_entries(entries)
    return plan_table(table, used_mask(table, used), stored_packs, **options)


def plan_table(
    table: BlobTable,
    used: Mask,
    stored_packs: Mapping[str, int],
    *,
    pack_size: int,
    max_unused: str = "5%",
    max_repack_bytes: int | None = None,
    repack_small: bool = False,
    repack_uncompressed: bool = False,
    repo_version: int = 2,
) -> PrunePlan:
    """Decide every pack's fate as restic 0.14's prune does; ``stored_packs``: pack id -> file size."""
    max_unused_bytes = parse_max_unused(max_unused)
    repack_limit = math.inf if max_repack_bytes is None else max_repack_bytes
    plan = PrunePlan(table=table, keep=used)
    stats = plan.stats
    packs = _pack_infos(table, used, stats)
    # only tiny packs count as "too small" unless --repack-small asks for near-target sizes
    target = pack_size * 4 // 5 if repack_small else pack_size // 25

    candidates: list[tuple[str, PackInfo]] = []
    small: list[tuple[str, PackInfo]] = []
    for pack_id, file_size in sorted(stored_packs.items()):
        info = packs.pop(pack_id, None)
        if info is None:
            plan.remove_first.add(pack_id)
            stats.unreferenced_packs += 1
            stats.unreferenced_size += file_size
            continue
        if info.used_size + info.unused_size != file_size and info.used_blobs:
            raise PruneRefused(
                f"pack {pack_id}: size {file_size} does not match the index "
                f"({info.used_size + info.unused_size}); the index needs rebuilding before prune"
            )
        if info.used_blobs == 0:
            stats.packs_unused += 1
        elif info.unused_blobs == 0:
            stats.packs_used += 1
        else:
            stats.packs_partly_used += 1
        must_compress = (
            repo_version >= 2 and (info.kind == "tree" or repack_uncompressed) and info.uncompressed
        )
        info.uncompressed = must_compress
        if info.used_blobs == 0:
            plan.remove.add(pack_id)
            stats.remove_blobs += info.unused_blobs
            stats.remove_size += info.unused_size
        elif info.unused_blobs == 0 and info.kind != "mixed" and not must_compress:
            if file_size >= target:
                stats.packs_keep += 1
            else:
                small.append((pack_id, info))
        else:
            candidates.append((pack_id, info))

    # What is left in `packs` is in the index but not in storage.
    for pack_id, info in sorted(packs.items()):
        if info.used_blobs:
            missing = sorted(p for p, i in packs.items() if i.used_blobs)
            raise PruneRefused(
                f"the index references {len(missing)} needed pack file(s) missing from storage: "
                + ", ".join(missing[:20])
            )
        plan.ignore.add(pack_id)
        stats.remove_blobs += info.unused_blobs
        stats.remove_size += info.unused_size

    # Fewer than 10 small packs are not worth it; this also stops endless repacking of one small pack.
    if len(small) < 10:
        stats.packs_keep += len(small)
    else:
        candidates.extend(small)

    def order(item: tuple[str, PackInfo]) -> tuple[int, int, float, str]:
        pack_id, p = item
        total = p.used_size + p.unused_size
        ratio = p.unused_size / p.used_size if p.used_size else math.inf
        # trees first, then too-small packs, then by unused/used ratio, highest first
        return (0 if p.kind != "data" else 1, 0 if total < target else 1, -ratio, pack_id)

    candidates.sort(key=order)
    max_unused_after = max_unused_bytes(stats.used_size)
    for pack_id, p in candidates:
        unused_after = stats.unused_size - stats.remove_size - stats.repack_removed_size
        reached_unused = unused_after < max_unused_after
        total = p.used_size + p.unused_size
        if stats.repack_size + total >= repack_limit:
            stats.packs_keep += 1
        elif p.kind != "data" or p.uncompressed:
            _repack(plan, pack_id, p)
        elif reached_unused and total >= target:
            stats.packs_keep += 1
        else:
            _repack(plan, pack_id, p)
    return plan


def _repack(plan: PrunePlan, pack_id: str, p: PackInfo) -> None:
    plan.repack.add(pack_id)
    s = plan.stats
    s.repack_blobs += p.used_blobs + p.unused_blobs
    s.repack_size += p.used_size + p.unused_size
    s.repack_removed_blobs += p.unused_blobs
    s.repack_removed_size += p.unused_size
