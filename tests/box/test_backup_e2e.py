"""End to end against the sandbox over real sockets: `boxvault box backup`, then `restic` restores.

The acceptance scenario as it is: 3 users x 500 files (plus the admin's), shared folders, Unicode
names, empty files and one 62 MB file; then a 2 % mutation and a run without changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from boxcheck import (
    PASSWORD,
    Sandbox,
    file_sha1,
    restic,
    restic_snapshots,
    sdk_client,
    sdk_files,
    sdk_sha1,
    snapshot_nodes,
)

from support import require_binary, run_cli

pytestmark = pytest.mark.slow


def backup(sandbox: Sandbox, env: dict[str, str], *extra: str, check: bool = True) -> dict[str, Any]:
    proc = run_cli(
        ["box", "backup", *sandbox.cli_args(), "--json", "--rate-per-user", "0", *extra], env=env, check=check
    )
    assert proc.stdout.strip(), proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def latest_by_user(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for snap in restic_snapshots(env):  # oldest first
        user = next(t[5:] for t in snap["tags"] if t.startswith("user:"))
        out[user] = snap
    return out


def test_full_backup_restore_incremental_and_no_change(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str], tmp_path: Path
) -> None:
    require_binary("restic")
    sandbox = box_sandbox(users=3, files_per_user=500, large_files=1)
    creds = sandbox.creds

    # the repository must exist first (or --init)
    missing = run_cli(["box", "backup", *sandbox.cli_args()], env=repo_env, check=False)
    assert (
        missing.returncode == 1
        and "boxvault repo init" in missing.stderr
        and "Traceback" not in missing.stderr
    )

    # --- full backup -------------------------------------------------------------------------------------
    sandbox.reset_stats()
    first = backup(sandbox, repo_env, "--init")
    assert first["status"] == "succeeded", first
    by_user = {u["box_user_id"]: u for u in first["users"]}
    assert set(creds_user["id"] for creds_user in creds["users"]) <= set(by_user)
    stats = sandbox.stats()
    assert first["totals"]["downloaded"] == len(stats["downloads"])  # each file version fetched once
    assert all(n == 1 for n in stats["downloads"].values())

    snaps = latest_by_user(repo_env)
    assert set(snaps) == set(by_user)
    for uid, snap in snaps.items():
        assert snap["hostname"] == f"box-{creds['enterprise_id']}"
        assert snap["tags"] == ["box", f"user:{uid}", "task:cli"]
        assert snap["paths"] == [f"/{by_user[uid]['login']}"]
        assert snap["id"].startswith(by_user[uid]["snapshot_id"])
    restic(repo_env, "check")  # the restores below read (and verify) every data blob

    # --- every snapshot restores byte-identically to what the SDK downloads -------------------------------
    largest = 0
    downloaded_by_sdk: set[str] = set()
    for uid, snap in snaps.items():
        client = sdk_client(sandbox.url, creds, uid)
        files = sdk_files(client)
        nodes = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], PASSWORD, snap["id"])
        assert set(nodes) == set(files), f"user {uid}: snapshot and Box differ"
        assert by_user[uid]["files"] == len(files) and by_user[uid]["failed"] == 0
        target = tmp_path / f"restore-{uid}"
        restic(repo_env, "restore", snap["id"], "--target", str(target))
        for fid, f in files.items():
            path, attrs = nodes[fid]
            restored = target / path.lstrip("/")
            assert restored.stat().st_size == f.size
            got = file_sha1(restored)
            assert got == f.sha1, path
            if fid not in downloaded_by_sdk:  # shared files appear in several users' trees
                assert got == sdk_sha1(client, fid), path
                downloaded_by_sdk.add(fid)
            assert attrs["box.sha1"].decode() == f.sha1
            assert attrs["box.version_id"].decode() == f.version_id
            assert attrs["box.etag"] and attrs["box.owner"] and attrs["box.content_modified_at"]
            largest = max(largest, f.size)
    assert largest > 60 * 1024 * 1024
    assert any(f.size == 0 for f in files.values())
    assert any(not p.isascii() for p, _ in nodes.values())

    # --- 2 % changed: exactly the changed contents are downloaded; renames, moves, deletions show -------
    change = sandbox.mutate(0.02, seed=7)
    assert change["changed_file_ids"]
    sandbox.reset_stats()
    second = backup(sandbox, repo_env)
    assert second["status"] == "succeeded", second
    stats = sandbox.stats()
    assert set(stats["downloads"]) == set(change["changed_file_ids"])
    assert second["totals"]["downloaded"] == len(change["changed_file_ids"])
    assert sum(stats["requests"]["GET /2.0/files/{file_id}/content"].values()) == len(
        change["changed_file_ids"]
    )
    assert not [r for r in stats["requests"] if r.endswith("/metadata")], stats["requests"]
    snaps2 = latest_by_user(repo_env)
    seen_paths: dict[str, str] = {}
    for uid, snap in snaps2.items():
        assert snap["parent"] == snaps[uid]["id"]
        nodes = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], PASSWORD, snap["id"])
        files = sdk_files(sdk_client(sandbox.url, creds, uid))
        assert set(nodes) == set(files)
        for fid, f in files.items():
            path, attrs = nodes[fid]
            assert path.rsplit("/", 1)[1] == f.name or attrs.get("box.name", b"").decode() == f.name
            assert attrs["box.sha1"].decode() == f.sha1
            seen_paths[fid] = path
    ids = change["ids"]
    gone = set(ids["trashed"]) | set(ids["deleted"])
    assert gone and not gone & set(seen_paths)
    # a trashed file stays in the snapshot, under .box-trash, as the first backup held it
    in_trash = {
        fid: path
        for uid, snap in snaps2.items()
        for fid, (path, _) in snapshot_nodes(
            repo_env["RESTIC_REPOSITORY"], PASSWORD, snap["id"], trash=True
        ).items()
    }
    assert set(ids["trashed"]) <= set(in_trash) and not set(ids["deleted"]) & set(in_trash)
    for fid in ids["renames"] + ids["moves"]:
        assert fid in seen_paths
    assert ids["renames"] or ids["moves"]
    restic(repo_env, "check")

    # --- no change: nothing downloaded, only listings -----------------------------------------------------
    sandbox.reset_stats()
    third = backup(sandbox, repo_env)
    assert third["status"] == "succeeded"
    stats = sandbox.stats()
    assert stats["downloads"] == {} and third["totals"]["downloaded"] == 0
    assert third["totals"]["reused"] == third["totals"]["files"] - third["totals"]["web_links"]
    # the events streams show no change: every user's previous tree is reused, nothing is listed
    api = {route: n for route, n in stats["requests"].items() if " /2.0/" in route}
    assert set(api) == {"GET /2.0/users", "GET /2.0/events"}, api
    assert sum(sum(v.values()) for v in api.values()) == third["listing_pages"] == 1 + len(third["users"])
    assert all(u["unchanged"] for u in third["users"])
    snaps3 = latest_by_user(repo_env)
    for uid, snap in snaps3.items():
        assert snap["parent"] == snaps2[uid]["id"] and snap["tree"] == snaps2[uid]["tree"]

    # --full-walk lists everything and still downloads nothing
    sandbox.reset_stats()
    fourth = backup(sandbox, repo_env, "--full-walk")
    stats = sandbox.stats()
    assert stats["downloads"] == {} and fourth["totals"]["downloaded"] == 0
    assert fourth["totals"]["reused"] == fourth["totals"]["files"] - fourth["totals"]["web_links"]
    api = {route: n for route, n in stats["requests"].items() if " /2.0/" in route}
    # metadata instances come with the listings: the templates are asked for once per run, never an item
    assert set(api) == {
        "GET /2.0/users",
        "GET /2.0/folders/{folder_id}/items",
        "GET /2.0/folders/trash/items",
        "GET /2.0/metadata_templates/enterprise",
        "GET /2.0/metadata_templates/global",
    }, api
    assert sum(sum(v.values()) for v in api.values()) == fourth["listing_pages"]
    for uid, snap in latest_by_user(repo_env).items():
        assert snap["tree"] == snaps2[uid]["tree"]  # the same tree, rebuilt from a full listing
    # the 2 % incremental run listed only the folders its events named
    assert second["listing_pages"] < fourth["listing_pages"] / 2, (
        second["listing_pages"],
        fourth["listing_pages"],
    )
