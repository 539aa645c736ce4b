"""The catalog keeps one row per item version and snapshot range; unchanged items cost nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from boxvault.box.catalog import CatalogEntry, SnapshotRef, SqliteCatalog

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _entries(
    n: int, changed: dict[int, str] | None = None, drop: set[int] | None = None
) -> list[CatalogEntry]:
    out = []
    for i in range(n):
        if drop and i in drop:
            continue
        version = (changed or {}).get(i, "v1")
        out.append(
            CatalogEntry(
                item_id=str(i),
                item_type="file",
                path=f"Docs/f{i}.txt",
                name=f"f{i}.txt",
                version_id=version,
                sha1=f"{i:040x}",
                size=i,
                created_by='{"login":"a@x"}',
            )
        )
    return out


def _count(cat: SqliteCatalog) -> int:
    return int(cat._db.execute("SELECT count(*) FROM versions").fetchone()[0])


def test_rows_grow_with_changes_not_snapshots(tmp_path: Path) -> None:
    cat = SqliteCatalog(tmp_path / "c.sqlite")
    snaps = [SnapshotRef("e1", "u1", f"s{i}", T0 + timedelta(days=i)) for i in range(5)]
    d0 = cat.record_snapshot(snaps[0], _entries(100))
    assert (d0.added, d0.closed, d0.unchanged) == (100, 0, 0)
    for s in snaps[1:3]:  # two runs without change
        d = cat.record_snapshot(s, _entries(100))
        assert (d.added, d.closed, d.unchanged) == (0, 0, 100)
    assert _count(cat) == 100
    d3 = cat.record_snapshot(snaps[3], _entries(100, changed={1: "v2", 2: "v2"}, drop={3}))
    assert (d3.added, d3.closed, d3.unchanged) == (2, 3, 97)
    assert _count(cat) == 102
    cat.record_snapshot(snaps[4], _entries(100, changed={1: "v2", 2: "v2"}, drop={3}))
    assert _count(cat) == 102

    at2 = {e.item_id: e.version_id for e in cat.entries_at("e1", "u1", "s2")}
    at4 = {e.item_id: e.version_id for e in cat.entries_at("e1", "u1", "s4")}
    assert len(at2) == 100 and at2["1"] == "v1" and "3" in at2
    assert len(at4) == 99 and at4["1"] == "v2" and "3" not in at4

    history = cat.history("e1", "1")
    assert [(h.entry.version_id, h.from_snapshot, h.until_snapshot) for h in history] == [
        ("v1", "s0", "s3"),
        ("v2", "s3", None),
    ]
    gone = cat.history("e1", "3")
    assert [(h.from_snapshot, h.until_snapshot) for h in gone] == [("s0", "s3")]


def test_users_are_separate_and_recording_is_idempotent(tmp_path: Path) -> None:
    cat = SqliteCatalog(tmp_path / "c.sqlite")
    cat.record_snapshot(SnapshotRef("e1", "u1", "a", T0), _entries(3))
    cat.record_snapshot(SnapshotRef("e1", "u2", "b", T0), _entries(2))
    again = cat.record_snapshot(SnapshotRef("e1", "u1", "a", T0), _entries(1))
    assert (again.added, again.closed) == (0, 0)
    assert len(list(cat.entries_at("e1", "u1", "a"))) == 3
    assert len(list(cat.entries_at("e1", "u2", "b"))) == 2
    assert list(cat.entries_at("e1", "u2", "a")) == []


def test_search_by_name_and_author(tmp_path: Path) -> None:
    cat = SqliteCatalog(tmp_path / "c.sqlite")
    entries = _entries(12) + [
        CatalogEntry(
            item_id="x",
            item_type="file",
            path="a/100%_done.txt",
            name="100%_done.txt",
            modified_by='{"login":"bob@x"}',
        )
    ]
    cat.record_snapshot(SnapshotRef("e1", "u1", "s", T0), entries)
    assert {r.entry.item_id for r in cat.search("e1", name="f1")} == {"1", "10", "11"}
    assert [r.entry.item_id for r in cat.search("e1", name="%_")] == ["x"]  # wildcards are literal
    assert [r.entry.item_id for r in cat.search("e1", author="bob@")] == ["x"]
    assert cat.search("other", name="f1") == []
