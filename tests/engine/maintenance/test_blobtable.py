"""The compact index table of check/prune: lookups, duplicates, grouping by pack, and its size per blob."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from boxvault.engine.blobtable import BlobTable
from boxvault.engine.maint_io import ObjectDamaged


def bid(n: int) -> bytes:
    return hashlib.sha256(str(n).encode()).digest()


def doc(pack: str, blobs: list[tuple[int, str]]) -> dict[str, object]:
    return {
        "packs": [
            {
                "id": pack,
                "blobs": [
                    {"id": bid(n).hex(), "type": kind, "offset": 100 * i, "length": 100}
                    for i, (n, kind) in enumerate(blobs)
                ],
            }
        ]
    }


def test_lookups_copies_and_a_pack_listed_twice() -> None:
    t = BlobTable()
    a, b = "aa" * 32, "bb" * 32
    t.add_document(doc(a, [(1, "data"), (2, "data"), (3, "tree")]), "index/1")
    t.add_document(doc(a, [(1, "data"), (2, "data"), (3, "tree")]), "index/2")  # the same pack again
    t.add_document(doc(b, [(2, "data"), (1, "tree")]), "index/3")  # a second copy of data 2; tree 1
    t.finish()
    assert len(t) == 5  # the copies listed twice count once
    assert t.pack_files == [2, 1]
    pos = t.find("data", [bid(1), bid(2), bid(3), bid(9)])
    assert (pos >= 0).tolist() == [True, True, False, False]
    assert [r.pack_id for r in t.records("data", bid(2))] == [a, b]
    assert [r.kind for r in t.records("tree", bid(1))] == ["tree"]
    assert t.first.get(("data", bid(9))) is None and ("tree", bid(3)) in t.first
    perm, starts = t.by_pack()
    rows_of_b = {t.key_at(int(p)) for p in perm[starts[1] : starts[2]]}
    assert rows_of_b == {("data", bid(2)), ("tree", bid(1))}


def test_an_invalid_index_adds_nothing() -> None:
    t = BlobTable()
    bad = doc("cc" * 32, [(1, "data")])
    bad["packs"][0]["blobs"].append({"id": "abcd", "type": "data", "offset": 0, "length": 1})  # type: ignore[index]
    with pytest.raises(ObjectDamaged):
        t.add_document(bad, "index/bad")
    with pytest.raises(ObjectDamaged):
        t.add_document({"packs": [{"id": "dd" * 32, "blobs": [{"id": bid(1).hex(), "type": "x"}]}]}, "i")
    t.finish()
    assert len(t) == 0


def test_a_million_blobs_take_48_bytes_each() -> None:
    n = 1_000_000
    ids = np.frombuffer(os.urandom(32 * n), dtype=np.uint8).reshape(n, 32)
    t = BlobTable()
    per_file = 50_000
    for f in range(0, n, per_file):
        pack_docs = []
        for p in range(f, f + per_file, 100):
            blobs = [
                {"id": ids[i].tobytes().hex(), "type": "data", "offset": (i - p) * 10, "length": 10}
                for i in range(p, p + 100)
            ]
            pack_docs.append({"id": f"{p:064x}", "blobs": blobs})
        t.add_document({"packs": pack_docs}, f"index/{f}")
    t.finish()
    assert len(t) == n and t.nbytes() == 48 * n
    sample = [ids[i].tobytes() for i in range(0, n, 997)]
    pos = t.find("data", sample)
    assert (pos >= 0).all()
    assert [t.record(int(p)).blob_id for p in pos[:50]] == sample[:50]
    assert (t.find("tree", sample[:10]) < 0).all()
