"""Every index file's entries as one compact numpy table: what check, prune and rewrite hold per blob.

Maintenance must see each index entry separately (duplicates, a pack listed twice), and it used to keep a
Python object per entry (~340 bytes a blob: 3.4 GB at 10 million). Here an entry is one 48-byte row — the id,
the pack number with the tree flag in its top bit (big-endian, so rows sort by id, then kind, then pack),
offset, stored length and uncompressed length — in a single array sorted in place as 48-byte strings (no
index array, no copy). Used or visited blobs are byte masks over the row positions (1 byte a blob).

Loading grows the array with ``ndarray.resize`` (``realloc``, which moves large blocks with ``mremap``, so
growing never holds two copies), and every whole-table computation runs over slices of ``CHUNK`` rows: the
peak is the table plus the masks plus a constant, never a second table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .index import KINDS
from .maint_io import IndexRecord, ObjectDamaged, RepoLike, list_ids, load_json

REC = np.dtype([("id", "V32"), ("pk", ">u4"), ("off", "<u4"), ("len", "<u4"), ("ulen", "<u4")])
# the same 48 bytes as words, to compare keys of neighbouring rows without copying ids
_WORDS = np.dtype([("w0", "<u8"), ("w1", "<u8"), ("w2", "<u8"), ("w3", "<u8"), ("pko", "<u8"), ("lu", "<u8")])
TREE_BIT = 1 << 31
PACK_MASK = TREE_BIT - 1
CHUNK = 1 << 18
_U32 = 1 << 32
_ZERO16 = bytes(16)
_TREE16 = b"\x80" + bytes(15)

Mask = npt.NDArray[np.bool_]
Positions = npt.NDArray[np.intp]


def kind_no(kind: str) -> int:
    return 0 if kind == "data" else 1


class BlobTable:
    """Index entries sorted by (id, kind, pack, offset); the same stored copy listed twice is kept once."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.pack_ids: list[str] = []
        self.pack_files: list[int] = []  # how many index files list each pack
        self._pack_no: dict[str, int] = {}
        self._rows: Any = np.zeros(0, REC)
        self._n = 0

    # --- loading -----------------------------------------------------------------------------------------

    def pack_number(self, pack_id: str) -> int:
        no = self._pack_no.get(pack_id)
        if no is None:
            no = self._pack_no[pack_id] = len(self.pack_ids)
            self.pack_ids.append(pack_id)
            self.pack_files.append(0)
        return no

    def pack_no(self, pack_id: str) -> int | None:
        return self._pack_no.get(pack_id)

    def add_document(self, doc: Any, name: str) -> None:
        """Add one index file's entries; an invalid document raises ObjectDamaged and adds nothing."""
        ids: list[str] = []
        packs: list[str] = []
        counts: list[int] = []
        kinds: list[int] = []
        offs: list[int] = []
        lens: list[int] = []
        ulens: list[int] = []
        try:
            doc_packs = doc["packs"] if isinstance(doc, dict) else doc  # format v0 was a bare list of packs
            for pack in doc_packs or ():
                pack_id = str(pack["id"])
                bytes.fromhex(pack_id)
                blobs = pack.get("blobs") or ()
                for blob in blobs:
                    kind = blob["type"]
                    if kind not in KINDS:
                        raise ValueError(f"unknown blob type {kind!r}")
                    kinds.append(kind == "tree")
                    ids.append(blob["id"])
                    offs.append(int(blob["offset"]))
                    lens.append(int(blob["length"]))
                    ulens.append(int(blob.get("uncompressed_length") or 0))
                packs.append(pack_id)
                counts.append(len(blobs))
            raw_ids = bytes.fromhex("".join(ids))
            if len(raw_ids) != 32 * len(ids):
                raise ValueError("a blob id is not 32 bytes")
            for values in (offs, lens, ulens):
                if values and not (0 <= min(values) and max(values) < _U32):
                    raise ValueError("an offset or length is out of range")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ObjectDamaged(f"{name}: not a valid index: {e}") from e
        numbers = [self.pack_number(p) for p in packs]
        for no in set(numbers):
            self.pack_files[no] += 1
        if len(self.pack_ids) > PACK_MASK:
            raise ObjectDamaged(f"{name}: more than {PACK_MASK} packs")
        n = len(ids)
        self._reserve(self._n + n)
        rows = self._rows[self._n : self._n + n]
        rows["id"] = np.frombuffer(raw_ids, dtype="V32")
        pk = np.repeat(np.array(numbers, dtype=np.uint32), counts)
        pk |= np.array(kinds, dtype=np.uint32) << np.uint32(31)
        rows["pk"] = pk
        rows["off"] = offs
        rows["len"] = lens
        rows["ulen"] = ulens
        self._n += n

    def _reserve(self, n: int) -> None:
        if n <= len(self._rows):
            return
        # realloc (mremap for large blocks): growing never holds two copies of the table; but numpy zeroes
        # the new part, so ``load`` reserves its estimate up front and this growth is the exception
        self._rows.resize(max(n, len(self._rows) * 5 // 4, 4096), refcheck=False)

    def reserve_estimate(self, n: int) -> None:
        """Room for about ``n`` rows, left untouched (np.empty): pages never written cost no memory."""
        if n <= len(self._rows):
            return
        rows = np.empty(n, REC)
        rows[: self._n] = self._rows[: self._n]
        self._rows = rows

    def add_rows(self, rows: Sequence[tuple[str, bytes, str, int, int, int]]) -> None:
        """(kind, id, pack id, offset, length, uncompressed length) rows, for tables built by hand."""
        for kind, blob_id, pack_id, off, length, ulen in rows:
            self._reserve(self._n + 1)
            self._rows[self._n] = (
                blob_id,
                self.pack_number(pack_id) | (TREE_BIT if kind == "tree" else 0),
                off,
                length,
                ulen,
            )
            self._n += 1

    def finish(self) -> None:
        """Trim, sort in place and drop a stored copy listed by several index files (one copy, not two)."""
        self._rows.resize(self._n, refcheck=False)
        self._rows.view("S48").sort()  # bytewise: id, kind + pack (big-endian), then the rest
        n = self._n
        if n < 2:
            return
        drop: list[Positions] = []
        for s in range(1, n, CHUNK):
            e = min(n, s + CHUNK)
            a = self._rows[s - 1 : e - 1].view(_WORDS)
            b = self._rows[s:e].view(_WORDS)
            # same id, kind, pack and offset (pko holds pk and offset)
            same = (a["w0"] == b["w0"]) & (a["w1"] == b["w1"]) & (a["w2"] == b["w2"])
            same &= (a["w3"] == b["w3"]) & (a["pko"] == b["pko"])
            if same.any():
                drop.append(np.flatnonzero(same) + s)
        if drop:
            keep = np.ones(n, dtype=np.bool_)
            keep[np.concatenate(drop)] = False
            self._n = int(keep.sum())
            self._rows = self._rows[keep]

    @classmethod
    def load(
        cls,
        repo: RepoLike,
        on_damaged: Callable[[str, Exception], None],
        progress: Callable[[int, int], None] | None = None,
    ) -> BlobTable:
        """Every index file in id order; ``on_damaged(index_id, error)`` goes on or raises."""
        table = cls()
        files = sorted(list_ids(repo, "index"))
        total_bytes = sum(size for _, size in files)
        read_bytes = 0
        for i, (index_id, size) in enumerate(files):
            name = f"index/{index_id}"
            try:
                table.add_document(load_json(repo, name), name)
            except Exception as e:  # noqa: BLE001 - the caller decides; storage errors name the object
                on_damaged(index_id, e)
                continue
            table.files.append(index_id)
            read_bytes += size
            if i < 3:
                # index files hold a steady number of entries per stored byte: size the table once
                table.reserve_estimate(int(len(table) * total_bytes / max(1, read_bytes) * 1.05) + 64)
            if progress:
                progress(i + 1, len(files))
        table.finish()
        return table

    # --- queries -----------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @property
    def rows(self) -> Any:
        return self._rows

    def nbytes(self) -> int:
        return int(self._rows.nbytes)

    def find(self, kind: str, ids: Sequence[bytes]) -> Positions:
        """For each id, the position of the first row of (kind, id), or -1."""
        if not ids:
            return np.zeros(0, dtype=np.intp)
        suffix = _TREE16 if kind == "tree" else _ZERO16
        query = np.frombuffer(suffix.join(ids) + suffix, dtype="S48")
        rows = self._rows.view("S48")
        pos = np.searchsorted(rows, query)
        inside = pos < self._n
        at = np.where(inside, pos, 0)
        if not self._n:
            return np.full(len(ids), -1, dtype=np.intp)
        got = self._rows[at].view(_WORDS)
        want = query.view(_WORDS)
        hit = inside & (got["w0"] == want["w0"]) & (got["w1"] == want["w1"]) & (got["w2"] == want["w2"])
        hit &= (got["w3"] == want["w3"]) & ((got["pko"] & 0x80) == (want["pko"] & 0x80))
        return np.where(hit, pos, -1)

    def find_one(self, kind: str, blob_id: bytes) -> int:
        return int(self.find(kind, [blob_id])[0])

    def key_at(self, pos: int) -> tuple[str, bytes]:
        row = self._rows[pos]
        return ("tree" if int(row["pk"]) & TREE_BIT else "data", bytes(row["id"]))

    def pack_at(self, pos: int) -> int:
        return int(self._rows[pos]["pk"]) & PACK_MASK

    def copies(self, pos: int) -> range:
        """Rows of the same (kind, id) as the first row ``pos``."""
        end = pos + 1
        words = self._rows.view(_WORDS)
        first = words[pos]
        while end < self._n:
            other = words[end]
            if any(int(first[w]) != int(other[w]) for w in ("w0", "w1", "w2", "w3")) or (
                int(first["pko"]) & 0x80
            ) != (int(other["pko"]) & 0x80):
                break
            end += 1
        return range(pos, end)

    def first_of(self, positions: Positions) -> Positions:
        """The first row of each given row's key."""
        rows = self._rows[positions]
        query = np.empty(len(rows), dtype=REC)
        query["id"] = rows["id"]
        query["pk"] = rows["pk"] & np.uint32(TREE_BIT)
        query["off"] = query["len"] = query["ulen"] = 0
        return np.searchsorted(self._rows.view("S48"), query.view("S48"))

    def record(self, pos: int) -> IndexRecord:
        row = self._rows[pos]
        pk = int(row["pk"])
        return IndexRecord(
            "tree" if pk & TREE_BIT else "data",
            bytes(row["id"]),
            self.pack_ids[pk & PACK_MASK],
            int(row["off"]),
            int(row["len"]),
            int(row["ulen"]),
        )

    def records(self, kind: str, blob_id: bytes) -> list[IndexRecord]:
        pos = self.find_one(kind, blob_id)
        return [] if pos < 0 else [self.record(p) for p in self.copies(pos)]

    def chunks(self) -> Iterator[tuple[int, int]]:
        for s in range(0, self._n, CHUNK):
            yield s, min(self._n, s + CHUNK)

    def packs_of(self, s: int, e: int) -> npt.NDArray[np.intp]:
        packs: Positions = (self._rows["pk"][s:e] & np.uint32(PACK_MASK)).astype(np.intp)
        return packs

    def key_starts(self, s: int, e: int) -> Mask:
        """For rows s..e-1: does the row start a new (kind, id) key (differ from the row before it)?"""
        out = np.ones(e - s, dtype=np.bool_)
        lo = max(s, 1)
        if lo >= e:
            return out
        a = self._rows[lo - 1 : e - 1].view(_WORDS)
        b = self._rows[lo:e].view(_WORDS)
        same = (a["w0"] == b["w0"]) & (a["w1"] == b["w1"]) & (a["w2"] == b["w2"])
        same &= (a["w3"] == b["w3"]) & ((a["pko"] & 0x80) == (b["pko"] & 0x80))
        out[lo - s :] = ~same
        return out

    def by_pack(self, wanted: Mask | None = None) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        """Row positions grouped by pack (a counting sort, 4 bytes a row): rows of pack p are
        ``perm[starts[p]:starts[p + 1]]``. With ``wanted`` (a mask over packs) only those packs' rows."""
        npk = len(self.pack_ids)
        counts = np.zeros(npk, dtype=np.int64)
        for s, e in self.chunks():
            counts += np.bincount(self.packs_of(s, e), minlength=npk)
        if wanted is not None:
            counts[~wanted] = 0
        starts = np.zeros(npk + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        fill = starts[:-1].copy()
        perm = np.empty(int(starts[-1]), dtype=np.uint32)
        for s, e in self.chunks():
            packs = self.packs_of(s, e)
            local = np.arange(s, e, dtype=np.int64)
            if wanted is not None:
                sel = wanted[packs]
                packs, local = packs[sel], local[sel]
            order = np.argsort(packs, kind="stable")
            packs, local = packs[order], local[order]
            if not len(packs):
                continue
            group_start = np.flatnonzero(np.r_[True, packs[1:] != packs[:-1]])
            sizes = np.diff(np.r_[group_start, len(packs)])
            rank = np.arange(len(packs)) - np.repeat(group_start, sizes)
            perm[fill[packs] + rank] = local
            fill += np.bincount(packs, minlength=npk)
        return perm, starts

    @property
    def first(self) -> FirstCopy:
        """``(kind, id) -> IndexRecord`` of the first copy, as a read-only mapping (``get`` and ``in``)."""
        return FirstCopy(self)


class FirstCopy:
    def __init__(self, table: BlobTable) -> None:
        self._table = table

    def get(self, key: tuple[str, bytes]) -> IndexRecord | None:
        pos = self._table.find_one(*key)
        return None if pos < 0 else self._table.record(pos)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        return self._table.find_one(key[0], key[1]) >= 0
