"""One Box item, one place (box/placement.py): what `live` and `settle` see when a path is taken out of
the snapshot and the item is placed there again (a folder listed again after a rename raced the walk)."""

from __future__ import annotations

from boxvault.box.placement import Current, Placements


def test_an_item_placed_again_where_it_was_taken_out_is_live_there() -> None:
    p = Placements()
    p.add("7", "folder", "Docs/copied-1", "copied-1")
    p.take_out("Docs/copied-1", rows=1)
    assert p.live("7") == []
    p.add("7", "folder", "Docs/copied-1", "copied-1")
    assert [x.path for x in p.live("7")] == ["Docs/copied-1"]
    assert p.placed_path("7") == "Docs/copied-1"
    assert p.settle(lambda *_: None, rows=2) == []


def test_a_duplicate_back_at_a_taken_out_path_is_settled() -> None:
    """Seen in bench/converge.py (seed 11, round 34): the walk placed the folder at A, the raced-folder
    pass took A out, listed it at B and again at A. Both are in the snapshot: settle must see both."""
    p = Placements()
    p.add("1", "folder", "Docs", "Docs")
    p.add("2", "folder", "Docs/renamed-2", "renamed-2")
    p.add("7", "folder", "Docs/copied-1", "copied-1")
    p.take_out("Docs/copied-1", rows=3)
    p.add("7", "folder", "Docs/renamed-2/copied-1", "copied-1")
    p.add("7", "folder", "Docs/copied-1", "copied-1")
    assert sorted(x.path for x in p.live("7")) == ["Docs/copied-1", "Docs/renamed-2/copied-1"]
    # Box shows it under renamed-2 now: the other place leaves the snapshot
    out = p.settle(lambda *_: Current(parent_id="2", name="copied-1"), rows=5)
    assert out == ["Docs/copied-1"]
    assert [x.path for x in p.live("7")] == ["Docs/renamed-2/copied-1"]


def test_the_same_live_path_counts_once() -> None:
    p = Placements()
    p.add("7", "file", "a.txt", "a.txt")
    p.add("7", "file", "b.txt", "b.txt")
    p.add("7", "file", "b.txt", "b.txt")
    assert [x.path for x in p.live("7")] == ["a.txt", "b.txt"]
    out = p.settle(lambda *_: Current(parent_id="0", name="b.txt"), rows=3)
    assert out == ["a.txt"]  # never the winner's own path
    assert [x.path for x in p.live("7")] == ["b.txt"]
