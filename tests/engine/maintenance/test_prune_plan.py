"""prune's pack decisions on hand-made indexes (restic's rules: remove, repack, keep, refuse)."""

from __future__ import annotations

import hashlib

import pytest

from boxvault.engine.prune_plan import (
    COMPRESSED_ENTRY_SIZE,
    HEADER_OVERHEAD,
    IndexedBlob,
    PruneOptionError,
    PruneRefused,
    parse_max_unused,
    parse_size,
    plan_prune,
)

PACK = 64 * 1024


def bid(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


def pack(pack_id: str, kind: str, blobs: list[tuple[int, int]]) -> tuple[list[IndexedBlob], int]:
    entries = [IndexedBlob(kind, bid(n), pack_id, length, True) for n, length in blobs]
    size = HEADER_OVERHEAD + sum(COMPRESSED_ENTRY_SIZE + length for _, length in blobs)
    return entries, size


def build(*packs: tuple[str, str, list[tuple[int, int]]]) -> tuple[list[IndexedBlob], dict[str, int]]:
    entries: list[IndexedBlob] = []
    sizes: dict[str, int] = {}
    for pack_id, kind, blobs in packs:
        e, size = pack(pack_id, kind, blobs)
        entries += e
        sizes[pack_id] = size
    return entries, sizes


def test_parse_options() -> None:
    assert parse_size("5k") == 5120 and parse_size("2M") == 2 * 2**20 and parse_size("7") == 7
    assert parse_max_unused("5%")(950) == 50
    assert parse_max_unused("0%")(1000) == 0
    assert parse_max_unused("1k")(10) == 1024
    for bad in ("", "abc%", "100%", "-1%", "x"):
        with pytest.raises(PruneOptionError):
            parse_max_unused(bad)


def test_unused_pack_removed_used_kept_partly_used_repacked() -> None:
    entries, sizes = build(
        ("p1", "data", [(1, 30000), (2, 30000)]),  # fully used
        ("p2", "data", [(3, 30000), (4, 30000)]),  # fully unused
        ("p3", "data", [(5, 30000), (6, 30000)]),  # half used
        ("t1", "tree", [(7, 500), (8, 500)]),  # tree pack, partly used: always repacked
    )
    sizes["orphan"] = 1234  # in storage, in no index
    used = {("data", bid(n)) for n in (1, 2, 5)} | {("tree", bid(7))}
    plan = plan_prune(entries, used, sizes, pack_size=PACK)
    assert plan.remove == {"p2"}
    assert plan.repack == {"p3", "t1"}
    assert plan.remove_first == {"orphan"}
    assert plan.keep_blobs == used
    assert plan.stats.packs_keep == 1


def test_max_unused_tolerates_some_waste() -> None:
    big = [(n, 3000) for n in range(10, 30)]
    entries, sizes = build(("p1", "data", big), ("p2", "data", [(n, 3000) for n in range(30, 50)]))
    used = {("data", bid(n)) for n in range(10, 49)}  # one blob of p2 unused: ~2.5% waste
    assert plan_prune(entries, used, sizes, pack_size=PACK, max_unused="5%").repack == set()
    assert plan_prune(entries, used, sizes, pack_size=PACK, max_unused="0%").repack == {"p2"}
    assert plan_prune(entries, used, sizes, pack_size=PACK, max_unused="unlimited").repack == set()


def test_duplicate_blob_keeps_one_copy_in_a_kept_pack() -> None:
    entries, sizes = build(
        ("p1", "data", [(1, 30000), (2, 30000)]),
        ("p2", "data", [(2, 30000)]),  # duplicate of blob 2, nothing else
    )
    used = {("data", bid(1)), ("data", bid(2))}
    plan = plan_prune(entries, used, sizes, pack_size=PACK)
    assert plan.remove == {"p2"} and not plan.repack
    assert plan.stats.duplicate_blobs == 1


def test_refuses_when_used_blob_is_in_no_index_or_pack_missing() -> None:
    entries, sizes = build(("p1", "data", [(1, 30000)]))
    with pytest.raises(PruneRefused, match="in no index"):
        plan_prune(entries, {("data", bid(9))}, sizes, pack_size=PACK)
    with pytest.raises(PruneRefused, match="missing from storage"):
        plan_prune(entries, {("data", bid(1))}, {}, pack_size=PACK)
    # a missing pack that nobody needs is only forgotten
    plan = plan_prune(entries, set(), {}, pack_size=PACK)
    assert plan.ignore == {"p1"}


def test_size_mismatch_refused() -> None:
    entries, sizes = build(("p1", "data", [(1, 30000)]))
    sizes["p1"] += 1
    with pytest.raises(PruneRefused, match="does not match"):
        plan_prune(entries, {("data", bid(1))}, sizes, pack_size=PACK)


def test_small_packs_repacked_only_when_ten_or_more() -> None:
    nine = [(f"s{i}", "data", [(100 + i, 100)]) for i in range(9)]
    entries, sizes = build(*nine)
    used = {e.key for e in entries}
    assert plan_prune(entries, used, sizes, pack_size=PACK).repack == set()
    ten = [(f"s{i}", "data", [(100 + i, 100)]) for i in range(10)]
    entries, sizes = build(*ten)
    used = {e.key for e in entries}
    assert len(plan_prune(entries, used, sizes, pack_size=PACK).repack) == 10
