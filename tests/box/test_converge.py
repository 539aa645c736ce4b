"""Snapshots converge on Box while it changes (issue 20, docs/box.md "Backups while Box changes").

Against the sandbox over a real socket, with changes landing between two folder listings of a run:
(a) the snapshot taken during the changes holds each Box id at most once, at a path the item had at some
moment of the run, with the bytes of one of its versions; (b) the next incremental snapshot equals Box
exactly (paths and sha1s); (c) a run after it, with no change, downloads nothing. The same with the
events delivered twice and out of order (the sandbox's `event_redelivery` / `event_shuffle` faults).
`bench/converge.py` runs the same property for longer.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from converge_support import PASSWORD, Changer, Harness, check_during, converge_round, record
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from boxvault.sandbox import items
from support.sandbox import running_sandbox

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("BOXVAULT_CONVERGE_EXAMPLES", "6"))


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    home = tmp_path_factory.mktemp("converge")
    with running_sandbox(home, users=2, files_per_user=40, seed=7) as sb:
        # the second user sees their own tree and the first user's top folder (shared, editor)
        yield Harness(sb, home, sb.users[1])


def changes_strategy() -> st.SearchStrategy[list[tuple[int, str, int, int]]]:
    change = st.tuples(
        st.integers(1, 12), st.sampled_from(Changer.KINDS), st.integers(0, 999), st.integers(0, 999)
    )
    return st.lists(change, min_size=1, max_size=12).map(sorted)


_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.generate],  # Box's state carries over from example to example: no shrinking replay
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_settings
@given(schedule=changes_strategy(), full_walk=st.booleans())
def test_snapshots_converge_while_box_changes(
    harness: Harness, schedule: list[tuple[int, str, int, int]], full_walk: bool
) -> None:
    harness.sandbox.clear_faults()
    problems = converge_round(harness, schedule, full_walk)
    print("round:", schedule, full_walk, problems)  # the first failing round (hypothesis replays it)
    assert not problems, problems


@_settings
@given(schedule=changes_strategy(), full_walk=st.booleans(), seed=st.integers(0, 1000))
def test_converge_with_events_delivered_twice_and_out_of_order(
    harness: Harness, schedule: list[tuple[int, str, int, int]], full_walk: bool, seed: int
) -> None:
    harness.sandbox.set_faults(seed=seed, event_redelivery=0.5, event_shuffle=True)
    try:
        problems = converge_round(harness, schedule, full_walk)
        print("round:", seed, schedule, full_walk, problems)
        assert not problems, problems
    finally:
        harness.sandbox.clear_faults()


# --- the deterministic cases ------------------------------------------------------------------


def test_moves_during_a_first_backup_leave_no_ghost(tmp_path: Path) -> None:
    """The issue's first report: files moved while the first backup runs were stored twice (at the folder
    they left and the one they reached), and every later snapshot kept both."""
    with running_sandbox(tmp_path, users=1, files_per_user=60, seed=3) as sb:
        h = Harness(sb, tmp_path, sb.users[0])
        rng = random.Random(20)
        changer = Changer(h.store, [h.user_id])
        schedule = sorted(
            (rng.randrange(1, 6), kind, rng.randrange(1000), rng.randrange(1000))
            for kind in ["move_file"] * 8 + ["move_folder"] * 3
        )
        seen: dict[str, set[str]] = {}
        record(seen, h.view())

        def before_listing(n: int) -> None:
            for at, kind, a, b in schedule:
                if at == n:
                    changer.apply(kind, a, b)
                    record(seen, h.view())

        first = h.backup(before_listing=before_listing)
        assert changer.applied, "no change happened during the run"
        stored = h.stored(first)
        assert not check_during(h.store, stored, seen)
        assert first.relocated > 0  # some moves raced with the listing and were settled
        second = h.backup()
        assert h.stored(second).view() == h.view()
        third = h.backup()
        assert third.downloaded == 0 and h.stored(third).view() == h.view()


def _shared_with(h: Harness, owner: int) -> Any:
    """The folder `owner` shares with the harness's user (it sits in the user's root)."""
    return h.store.one(
        "SELECT i.* FROM items i JOIN collaborations c ON c.item_id = i.id WHERE c.user_id = ? "
        "AND i.owner_id = ?",
        h.user_id,
        owner,
    )


def test_a_file_moved_by_its_owner_out_of_a_shared_folder_leaves_the_collaborator(tmp_path: Path) -> None:
    """The issue's second report: the owner moves a file (and a subfolder) out of the folder shared with
    the user; Box puts the ITEM_MOVE into the collaborator's stream too, and the user's next incremental
    snapshot no longer holds them."""
    with running_sandbox(tmp_path, users=2, files_per_user=40, seed=5) as sb:
        owner, collaborator = int(sb.users[0]["id"]), sb.users[1]
        h = Harness(sb, tmp_path, collaborator)
        shared = _shared_with(h, owner)
        assert shared is not None
        first = h.backup()
        assert h.stored(first).view() == h.view()
        below = h.store.all(
            "WITH RECURSIVE t(id) AS (SELECT ? UNION ALL "
            "SELECT i.id FROM items i JOIN t ON i.parent_id = t.id) "
            "SELECT * FROM items WHERE id IN (SELECT id FROM t) AND id != ? ORDER BY id",
            shared["id"],
            shared["id"],
        )
        a_file = next(r for r in below if r["type"] == "file")
        a_folder = next((r for r in below if r["type"] == "folder"), None)
        private = items.create_folder(h.store, 0, owner, owner, "not shared")
        items.update(h.store, a_file, owner, parent=(private, owner))
        moved = {str(a_file["id"])}
        if a_folder is not None:
            fresh = h.store.item(int(a_folder["id"]))
            assert fresh is not None
            items.update(h.store, fresh, owner, parent=(private, owner))
            moved.add(str(a_folder["id"]))
        second = h.backup()
        assert not second.unchanged  # the moves are in the collaborator's stream
        got = h.stored(second).view()
        assert not moved & set(got)
        assert got == h.view()


def test_a_folder_listed_again_keeps_a_name_no_sibling_has(tmp_path: Path) -> None:
    """A folder of the user's, moved into their root where a folder shared with them has the same name, is
    stored as "<name> (box <id>)". When events come again (Box's stream is at-least-once), the raced-folder
    pass takes it out and lists it again: it must come back under a name no sibling has. It came back
    under Box's name, collided with the shared folder, and was left out of the snapshot with all below it."""
    with running_sandbox(tmp_path, users=2, files_per_user=40, seed=5) as sb:
        owner, collaborator = int(sb.users[0]["id"]), sb.users[1]
        h = Harness(sb, tmp_path, collaborator)
        shared = _shared_with(h, owner)
        own = h.store.one(
            "SELECT * FROM items WHERE type = 'folder' AND owner_id = ? AND parent_id != 0 AND purged = 0 "
            "AND trashed_at IS NULL AND EXISTS (SELECT 1 FROM items f WHERE f.parent_id = items.id) "
            "ORDER BY id LIMIT 1",
            h.user_id,
        )
        assert shared is not None and own is not None
        h.backup()
        items.update(h.store, own, h.user_id, name=shared["name"], parent=(0, h.user_id))
        moved = h.backup()
        assert h.stored(moved).view() == h.view()
        node_paths = {p[1] for p in read_snapshot_nodes(h, moved, str(own["id"]))}
        assert node_paths == {f"{shared['name']} (box {own['id']})"}
        sb.set_faults(seed=1, event_redelivery=1.0)
        try:
            again = h.backup()
        finally:
            sb.clear_faults()
        assert not again.failed, again.failures
        assert h.stored(again).view() == h.view()  # the folder and everything below it
        assert {p[1] for p in read_snapshot_nodes(h, again, str(own["id"]))} == node_paths


def read_snapshot_nodes(h: Harness, report: Any, item_id: str) -> list[tuple[str, str]]:
    """(type, node path below the user's folder) of every node of `item_id` in the report's snapshot."""
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    repo = Repository.open(open_backend(str(h.repo_path)), PASSWORD)
    try:
        prefix = f"/{h.user['login']}/"
        return [
            (node.type, path[len(prefix) :])
            for path, node in repo.walk(repo.find_snapshot(report.snapshot_id))
            if dict(node.extended_attributes).get("box.id") == item_id.encode()
        ]
    finally:
        repo.close()


def _silent_rename(h: Harness) -> str:
    """Rename one of the user's files behind the events stream's back (as a lost event would)."""
    row = h.store.one(
        "SELECT * FROM items WHERE type = 'file' AND owner_id = ? AND purged = 0 AND trashed_at IS NULL "
        "ORDER BY id LIMIT 1",
        h.user_id,
    )
    assert row is not None
    h.store.db.execute(
        "UPDATE items SET name = ?, name_key = ? WHERE id = ?", ("silent.txt", "silent.txt", row["id"])
    )
    return str(row["id"])


def test_scheduled_full_walk_counts_and_heals_a_divergence(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, users=1, files_per_user=30, seed=9) as sb:
        h = Harness(sb, tmp_path, sb.users[0])
        first = h.backup()
        assert first.full_walk and first.divergent is None  # nothing to compare a first run with
        item_id = _silent_rename(h)
        # the events path cannot see a change Box did not report: the stale name stays ...
        stale = h.backup()
        assert stale.unchanged and not stale.full_walk
        assert h.stored(stale).view()[item_id][1] != h.view()[item_id][1]
        # ... until the scheduled full walk (due at once with 0 days), which stores Box as it is and
        # counts the item the incremental path would have got wrong
        proof = h.backup(full_walk_days=0)
        assert proof.full_walk and proof.divergent == 1, proof
        (item,) = proof.divergent_items
        assert item["item_id"] == item_id and item["path"].endswith("silent.txt")
        assert not item["incremental_path"].endswith("silent.txt")
        assert h.stored(proof).view() == h.view()
        # healed: the next scheduled full walk agrees with the incremental path
        again = h.backup(full_walk_days=0)
        assert again.full_walk and again.divergent == 0 and again.downloaded == 0
        # and a full walk while changes come in counts none of them (they are the next run's)
        changer = Changer(h.store, [h.user_id])
        busy = h.backup(
            full_walk_days=0,
            before_listing=lambda n: changer.apply(Changer.KINDS[n % len(Changer.KINDS)], n, 3 * n),
        )
        assert changer.applied and busy.divergent == 0, (changer.applied, busy.divergent_items)
