"""The in-memory master index and restic's index file format (design.rst "Indexing").

A Python dict of objects costs ~200 bytes per blob; 10 million blobs must fit well under 1 GB. Entries
therefore live in numpy columns sorted by id (48 bytes per blob: the id as four big-endian uint64 words plus
pack number, offset, length and uncompressed length as uint32), searched by bisection on the first word.
New entries go to a small dict that is merged into the columns once it grows. numpy is imported only
when a table outgrows the dict, so small repositories (and short CLI runs) do not pay for loading it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    U64 = npt.NDArray[np.uint64]
    U32 = npt.NDArray[np.uint32]

DATA, TREE = 0, 1
KINDS = ("data", "tree")
_MERGE_AT = 1 << 16
# restic keeps index files below ~8 MiB; its MasterIndex flushes an index when it holds 50,000 blobs
MAX_INDEX_ENTRIES = 50_000


def kind_code(kind: str) -> int:
    if kind == "data":
        return DATA
    if kind == "tree":
        return TREE
    raise ValueError(f"unknown blob type {kind!r}")


@dataclass(frozen=True, slots=True)
class BlobLocation:
    pack_id: bytes
    offset: int
    length: int  # stored (encrypted) length
    uncompressed_length: int  # 0 when the blob is stored uncompressed

    @property
    def plain_length(self) -> int:
        """Length of the plaintext: design.rst's ``Length(plaintext_blob)``."""
        from .crypto import OVERHEAD

        return self.uncompressed_length or self.length - OVERHEAD


@dataclass(frozen=True, slots=True)
class IndexEntry:
    kind: int
    blob_id: bytes
    location: BlobLocation


class _Table:
    """One blob type's sorted columns plus the dict of entries not merged yet."""

    def __init__(self) -> None:
        self.k: list[U64] = []
        self.pack: U32 | None = None
        self.offset: U32 | None = None
        self.length: U32 | None = None
        self.ulen: U32 | None = None
        self.recent: dict[bytes, tuple[int, int, int, int]] = {}

    def _size(self) -> int:
        return 0 if self.pack is None else len(self.pack)

    def __len__(self) -> int:
        return self._size() + len(self.recent)

    def find(self, blob_id: bytes) -> tuple[int, int, int, int] | None:
        hit = self.recent.get(blob_id)
        if hit is not None or self.pack is None:
            return hit
        k0 = self.k[0]
        w0 = int.from_bytes(blob_id[:8], "big")
        # a numpy scalar: a Python int above 2**63 would make numpy convert the whole column to float
        i = int(k0.searchsorted(k0.dtype.type(w0)))
        n = len(k0)
        if i >= n or int(k0[i]) != w0:
            return None
        w1 = int.from_bytes(blob_id[8:16], "big")
        w2 = int.from_bytes(blob_id[16:24], "big")
        w3 = int.from_bytes(blob_id[24:32], "big")
        while i < n and int(k0[i]) == w0:
            if int(self.k[1][i]) == w1 and int(self.k[2][i]) == w2 and int(self.k[3][i]) == w3:
                return (
                    int(self.pack[i]),
                    int(self.offset[i]),  # type: ignore[index]
                    int(self.length[i]),  # type: ignore[index]
                    int(self.ulen[i]),  # type: ignore[index]
                )
            i += 1
        return None

    def add_pending(self, pending: _Pending) -> None:
        """Bulk insert: small tables stay in the dict, others are merged into the columns in one sort."""
        ids = b"".join(pending.ids)
        if self.pack is None and not pending.arrays and len(self.recent) + pending.count < _MERGE_AT:
            for n, v in enumerate(pending.rows):
                self.recent.setdefault(ids[n * 32 : n * 32 + 32], v)
            return
        import numpy as np

        pending.pack_rows()
        self.flush_recent()
        self._merge(ids, np.concatenate(pending.arrays))

    def add_rows(self, rows: list[tuple[bytes, int, int, int, int]]) -> None:
        """Bulk insert; small tables stay in the dict."""
        if self.pack is None and len(self.recent) + len(rows) < _MERGE_AT:
            for blob_id, pack_no, offset, length, ulen in rows:
                self.recent.setdefault(blob_id, (pack_no, offset, length, ulen))
            return
        import numpy as np

        self.flush_recent()
        ids = b"".join(r[0] for r in rows)
        vals = np.array([r[1:] for r in rows], dtype=np.uint32).reshape(-1, 4)
        self._merge(ids, vals)

    def _merge(self, ids: bytes, vals: Any) -> None:
        """Merge a batch (ids concatenated, 32 bytes each; vals an (n, 4) uint32 array) into the columns."""
        import numpy as np

        if not len(vals):
            return
        words = np.frombuffer(ids, dtype=">u8").reshape(-1, 4).astype(np.uint64)
        if self.pack is None:
            empty64, empty32 = np.zeros(0, np.uint64), np.zeros(0, np.uint32)
            self.k = [empty64] * 4
            self.pack = self.offset = self.length = self.ulen = empty32
        assert self.offset is not None and self.length is not None and self.ulen is not None
        cols = [np.concatenate([self.k[j], words[:, j]]) for j in range(4)]
        order = np.lexsort((cols[3], cols[2], cols[1], cols[0]))
        self.k = [c[order] for c in cols]
        del cols
        self.pack = np.concatenate([self.pack, vals[:, 0]])[order]
        self.offset = np.concatenate([self.offset, vals[:, 1]])[order]
        self.length = np.concatenate([self.length, vals[:, 2]])[order]
        self.ulen = np.concatenate([self.ulen, vals[:, 3]])[order]

    def flush_recent(self) -> None:
        if not self.recent:
            return
        import numpy as np

        items = list(self.recent.items())
        self.recent = {}
        ids = b"".join(k for k, _ in items)
        self._merge(ids, np.array([v for _, v in items], dtype=np.uint32).reshape(-1, 4))

    def iter(self) -> Iterator[tuple[bytes, tuple[int, int, int, int]]]:
        if self.pack is not None and len(self.pack):
            import numpy as np

            assert self.offset is not None and self.length is not None and self.ulen is not None
            ids = np.stack(self.k, axis=1).astype(">u8").tobytes()
            for i in range(len(self.pack)):
                yield (
                    ids[i * 32 : i * 32 + 32],
                    (int(self.pack[i]), int(self.offset[i]), int(self.length[i]), int(self.ulen[i])),
                )
        yield from list(self.recent.items())

    def nbytes(self) -> int:
        if self.pack is None:
            return 0
        columns: list[Any] = [*self.k, self.pack, self.offset, self.length, self.ulen]
        return sum(int(a.nbytes) for a in columns)


class _Pending:
    """Index rows read but not merged yet: Python tuples while few, numpy arrays (16 bytes a row plus the
    32-byte id) once there are many, so loading 10 million blobs never holds 10 million tuples."""

    def __init__(self) -> None:
        self.ids: list[bytes] = []
        self.rows: list[tuple[int, int, int, int]] = []
        self.arrays: list[Any] = []
        self.count = 0

    def add(self, rows: list[tuple[str, int, int, int, int]]) -> None:
        self.ids.append(bytes.fromhex("".join(r[0] for r in rows)))
        self.rows.extend((r[1], r[2], r[3], r[4]) for r in rows)
        self.count += len(rows)
        if len(self.rows) >= _MERGE_AT:
            self.pack_rows()

    def pack_rows(self) -> None:
        if self.rows:
            import numpy as np

            self.arrays.append(np.array(self.rows, dtype=np.uint32).reshape(-1, 4))
            self.rows = []


class MasterIndex:
    """Where every known blob is stored. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._packs: list[bytes] = []
        self._pack_no: dict[bytes, int] = {}
        self._tables = (_Table(), _Table())
        self._pending = [_Pending(), _Pending()]
        self.loaded_files: set[str] = set()

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables)

    def _pack_number(self, pack_id: bytes) -> int:
        no = self._pack_no.get(pack_id)
        if no is None:
            no = self._pack_no[pack_id] = len(self._packs)
            self._packs.append(pack_id)
        return no

    def add(self, kind: int, blob_id: bytes, pack_id: bytes, offset: int, length: int, ulen: int) -> None:
        with self._lock:
            table = self._tables[kind]
            if table.find(blob_id) is not None:
                return
            table.recent[blob_id] = (self._pack_number(pack_id), offset, length, ulen)
            if len(table.recent) >= _MERGE_AT:
                table.flush_recent()

    def lookup(self, kind: int, blob_id: bytes) -> BlobLocation | None:
        with self._lock:
            hit = self._tables[kind].find(blob_id)
            if hit is None:
                return None
            return BlobLocation(self._packs[hit[0]], hit[1], hit[2], hit[3])

    def has(self, kind: int, blob_id: bytes) -> bool:
        with self._lock:
            return self._tables[kind].find(blob_id) is not None

    def packs(self) -> set[bytes]:
        with self._lock:
            return set(self._packs)

    def entries(self) -> Iterator[IndexEntry]:
        """Every (kind, id, location); a snapshot of the index taken under the lock."""
        with self._lock:
            snapshot = [(kind, list(table.iter())) for kind, table in enumerate(self._tables)]
            packs = list(self._packs)
        for kind, items in snapshot:
            for blob_id, (pack, offset, length, ulen) in items:
                yield IndexEntry(kind, blob_id, BlobLocation(packs[pack], offset, length, ulen))

    def add_index_document(self, doc: Any, name: str = "", *, defer: bool = False) -> None:
        """Add one decoded index file. With ``defer``, rows are kept compactly until ``finish_loading()``
        merges everything with one sort (a sort per file would be quadratic in the number of files)."""
        batches: tuple[list[Any], list[Any]] = ([], [])
        with self._lock:
            for pack in doc.get("packs") or ():
                pack_no = self._pack_number(bytes.fromhex(pack["id"]))
                for blob in pack.get("blobs") or ():
                    ulen = blob.get("uncompressed_length", 0)
                    row = (blob["id"], pack_no, blob["offset"], blob["length"], ulen)
                    batches[kind_code(blob["type"])].append(row)
            for kind, rows in enumerate(batches):
                if rows:
                    self._pending[kind].add(rows)
            if name:
                self.loaded_files.add(name)
            if not defer:
                self._finish()

    def finish_loading(self) -> None:
        with self._lock:
            self._finish()

    def _finish(self) -> None:
        for kind, pending in enumerate(self._pending):
            if pending.count:
                self._tables[kind].add_pending(pending)
                self._pending[kind] = _Pending()

    def nbytes(self) -> int:
        """Approximate memory held by the columns (for the 10-million-blob budget)."""
        with self._lock:
            return sum(t.nbytes() for t in self._tables)

    def compact(self) -> None:
        """Move pending entries into the columns (only where numpy columns are in use already)."""
        with self._lock:
            for t in self._tables:
                if t.pack is not None:
                    t.flush_recent()


@dataclass
class PackRecord:
    """A freshly written pack, as the next index file will describe it."""

    pack_id: bytes
    blobs: list[tuple[int, bytes, int, int, int]]  # kind, id, offset, length, uncompressed length


def index_document(packs: Iterable[PackRecord], supersedes: Iterable[str] = ()) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    sup = list(supersedes)
    if sup:
        doc["supersedes"] = sup
    out = []
    for pack in packs:
        blobs = []
        for kind, blob_id, offset, length, ulen in pack.blobs:
            entry: dict[str, Any] = {
                "id": blob_id.hex(),
                "type": KINDS[kind],
                "offset": offset,
                "length": length,
            }
            if ulen:
                entry["uncompressed_length"] = ulen
            blobs.append(entry)
        out.append({"id": pack.pack_id.hex(), "blobs": blobs})
    doc["packs"] = out
    return doc
