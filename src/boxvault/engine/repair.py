"""`repair index`: rebuild the index from the pack files (restic's `repair index`, `rebuild-index` in 0.14).

The remedy for a damaged or lost index file: entries of readable index files are kept for packs whose size
they describe correctly; every other pack's header is read. A complete new index is written first, then
every old index file (damaged ones included) is deleted, so an interruption leaves a usable repository.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .index import KINDS, PackRecord
from .maint_io import (
    IndexRecord,
    ObjectDamaged,
    RepoLike,
    list_ids,
    load_json,
    pack_name,
    parse_index,
    write_index,
)
from .pack import TAIL_READ, PackError, read_header
from .prune_plan import COMPRESSED_ENTRY_SIZE, HEADER_OVERHEAD, PLAIN_ENTRY_SIZE
from .storage import StorageError

Progress = Callable[[str, int, int], None]


@dataclass
class RepairResult:
    damaged_index_files: list[str] = field(default_factory=list)
    packs_read: int = 0
    unreadable_packs: list[str] = field(default_factory=list)
    new_index_files: list[str] = field(default_factory=list)
    deleted_index_files: list[str] = field(default_factory=list)
    blobs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "damaged_index_files": self.damaged_index_files,
            "packs_read": self.packs_read,
            "unreadable_packs": self.unreadable_packs,
            "new_index_files": self.new_index_files,
            "deleted_index_files": self.deleted_index_files,
            "blobs": self.blobs,
        }


def _expected_size(records: list[IndexRecord]) -> int:
    return HEADER_OVERHEAD + sum(
        r.length + (COMPRESSED_ENTRY_SIZE if r.uncompressed_length else PLAIN_ENTRY_SIZE) for r in records
    )


def _read_pack_header(repo: RepoLike, pack_id: str, size: int) -> list[IndexRecord]:
    name = pack_name(pack_id)
    tail = repo.backend.read(name, max(0, size - TAIL_READ), min(size, TAIL_READ))
    blobs, needed = read_header(repo.key, tail, size)
    if not blobs and needed > len(tail):
        tail = repo.backend.read(name, size - needed, needed)
        blobs, _ = read_header(repo.key, tail, size)
    return [
        IndexRecord(KINDS[b.kind], b.blob_id, pack_id, b.offset, b.length, b.uncompressed_length)
        for b in blobs
    ]


def repair_index(
    repo: Any, *, read_all_packs: bool = False, lock: bool = True, progress: Progress | None = None
) -> RepairResult:
    def run() -> RepairResult:
        result = RepairResult()
        known: dict[str, dict[tuple[int, int], IndexRecord]] = defaultdict(dict)
        old_files = sorted(i for i, _ in list_ids(repo, "index"))
        for index_id in old_files:
            name = f"index/{index_id}"
            try:
                records, _ = parse_index(load_json(repo, name), name)
            except ObjectDamaged:
                result.damaged_index_files.append(index_id)
                continue
            for r in records:
                known[r.pack_id][(r.offset, r.length)] = r
        stored = dict(list_ids(repo, "data"))
        packs: list[PackRecord] = []
        for i, (pack_id, size) in enumerate(sorted(stored.items())):
            records = list(known.get(pack_id, {}).values())
            if read_all_packs or not records or _expected_size(records) != size:
                try:
                    records = _read_pack_header(repo, pack_id, size)
                    result.packs_read += 1
                except (PackError, ObjectDamaged, StorageError, ValueError) as e:
                    result.unreadable_packs.append(f"{pack_id}: {e}")
                    continue
            records.sort(key=lambda r: r.offset)
            packs.append(
                PackRecord(
                    bytes.fromhex(pack_id),
                    [
                        (KINDS.index(r.kind), r.blob_id, r.offset, r.length, r.uncompressed_length)
                        for r in records
                    ],
                )
            )
            result.blobs += len(records)
            if progress:
                progress("packs", i + 1, len(stored))
        result.new_index_files = write_index(repo, packs, supersedes=old_files)
        for index_id in old_files:
            if index_id not in result.new_index_files:
                repo.backend.delete(f"index/{index_id}")
                result.deleted_index_files.append(index_id)
        return result

    if not lock:
        return run()
    with repo.lock(exclusive=True):
        return run()
