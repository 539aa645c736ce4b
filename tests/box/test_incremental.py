"""Incremental runs relist only the folders the events stream names (docs/box.md, "Incremental runs"):
after file changes *and* folder renames, moves and trash, the snapshot built from the previous tree plus
those listings equals the one a full walk (`--full-walk`) builds, and so do the catalog rows."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from box_sdk_gen.managers.folders import UpdateFolderByIdParent
from boxcheck import PASSWORD, Sandbox, sdk_client

from boxvault.box.catalog import CatalogEntry
from support import run_cli

pytestmark = pytest.mark.slow
FIELDS = [f.name for f in fields(CatalogEntry)]


def backup(sandbox: Sandbox, env: dict[str, str], *extra: str) -> dict[str, Any]:
    proc = run_cli(["box", "backup", *sandbox.cli_args(), "--json", "--rate-per-user", "0", *extra], env=env)
    report: dict[str, Any] = json.loads(proc.stdout)
    assert report["status"] == "succeeded", report
    return report


def owned_folders(client: Any, user_id: str) -> dict[str, list[str]]:
    """folder id -> ids of its ancestors (root first, without "0") for the folders the user owns."""
    out: dict[str, list[str]] = {}
    todo: list[tuple[str, list[str]]] = [("0", [])]
    while todo:
        fid, chain = todo.pop()
        for entry in client.folders.get_folder_items(
            fid, fields=["id", "type", "owned_by"], limit=1000
        ).entries:
            owner = entry.owned_by
            owner_id = owner.get("id") if isinstance(owner, dict) else getattr(owner, "id", None)
            if entry.type == "folder" and owner_id == user_id:
                out[entry.id] = chain
                todo.append((entry.id, [*chain, entry.id]))
    return out


def tree_of(repo_path: str, snapshot_id: str) -> dict[str, tuple[Any, ...]]:
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    repo = Repository.open(open_backend(repo_path), PASSWORD)
    try:
        snap = repo.find_snapshot(snapshot_id)
        return {
            path: (
                node.type,
                node.size if node.type == "file" else None,
                tuple(node.content or ()),
                tuple(sorted(node.extended_attributes)),
            )
            for path, node in repo.walk(snap)
        }
    finally:
        repo.close()


def catalog_rows(state_home: Path, snapshot_id: str) -> set[tuple[Any, ...]]:
    from boxvault.box.catalog import SqliteCatalog

    (path,) = state_home.glob("boxvault/box/*/catalog.sqlite")
    catalog = SqliteCatalog(path)
    try:
        out: set[tuple[Any, ...]] = set()
        for scope, user in {
            (r[0], r[1]) for r in catalog._db.execute("SELECT scope, box_user_id FROM snapshots")
        }:
            for e in catalog.entries_at(scope, user, snapshot_id):
                if e.item_type == "folder":
                    # Box's folder size is an aggregate of everything below: a folder reused from the
                    # previous snapshot keeps the size of its last listing (docs/box.md)
                    e = dataclasses.replace(e, size=0)
                out.add((user, *e.values()))
        return out
    finally:
        catalog.close()


def test_incremental_equals_full_walk(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str], tmp_path: Path
) -> None:
    sandbox = box_sandbox(users=3, files_per_user=120)
    creds = sandbox.creds
    first = backup(sandbox, repo_env, "--init")

    # files change (new versions, new files, renames, moves, trash, deletion, new folders) ...
    change = sandbox.mutate(0.05, seed=3)
    assert change["changed_file_ids"] and change["ids"]["moves"] and change["ids"]["renames"]
    # ... and folders are renamed, moved and trashed
    uid = creds["users"][0]["id"]
    client = sdk_client(sandbox.url, creds, uid)
    folders = owned_folders(client, uid)
    touched: list[str] = []

    def pick(exclude: set[str]) -> str:
        """A folder neither above nor below any folder picked before (deepest first)."""
        for fid, chain in sorted(folders.items(), key=lambda kv: -len(kv[1])):
            if fid in exclude:
                continue
            if all(t != fid and t not in chain and fid not in folders[t] for t in touched):
                touched.append(fid)
                return fid
        raise AssertionError(f"the seeded tree has too few folders: {folders}")

    renamed = pick(set())
    client.folders.update_folder_by_id(renamed, name="renamed folder ✓")
    moved = pick(set())
    target = pick({folders[moved][-1]} if folders[moved] else set())
    client.folders.update_folder_by_id(moved, parent=UpdateFolderByIdParent(id=target))
    trashed = pick(set())
    client.folders.delete_folder_by_id(trashed, recursive=True)

    inc = backup(sandbox, repo_env)
    assert not any(u["unchanged"] for u in inc["users"])
    full = backup(sandbox, repo_env, "--full-walk")
    # the incremental run listed far less than a full walk
    assert inc["listing_pages"] < full["listing_pages"], (inc["listing_pages"], full["listing_pages"])
    assert inc["totals"]["downloaded"] > 0 and full["totals"]["downloaded"] == 0

    repo_path = repo_env["RESTIC_REPOSITORY"]
    inc_by_user = {u["box_user_id"]: u for u in inc["users"]}
    prev_by_user = {u["box_user_id"]: u for u in first["users"]}
    for user in full["users"]:
        a = inc_by_user[user["box_user_id"]]
        assert a["files"] == user["files"] and a["folders"] == user["folders"] and a["bytes"] == user["bytes"]
        inc_tree = tree_of(repo_path, a["snapshot_id"])
        full_tree = tree_of(repo_path, user["snapshot_id"])
        # names, types, sizes, content blobs and every box.* attribute agree: no attribute differs
        # legitimately (folder aggregates such as Box's folder size are not node attributes)
        assert inc_tree == full_tree, user["login"]
        assert inc_tree != tree_of(repo_path, prev_by_user[user["box_user_id"]]["snapshot_id"])
    # the catalog agrees too: every item version with the same path, name, dates, authors and size
    # (except the aggregate size of folders not listed again)
    state_home = Path(repo_env["XDG_STATE_HOME"])
    for user in full["users"]:
        a = catalog_rows(state_home, inc_by_user[user["box_user_id"]]["snapshot_id"])
        b = catalog_rows(state_home, user["snapshot_id"])
        assert a and a == b, [
            (x[1], [(f, x[i + 1], y[i + 1]) for i, f in enumerate(FIELDS) if x[i + 1] != y[i + 1]])
            for x in sorted(a - b)
            for y in sorted(b - a)
            if x[:2] == y[:2]
        ]
