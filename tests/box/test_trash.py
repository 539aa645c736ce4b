"""The user's Box trash in the snapshot (box/trash.py): each trashed item as the previous snapshot held it,
under `.box-trash` with when and where from; its catalog rows typed `trashed_*` and the same as a repair
reads back from the tree; stable across runs; gone once Box purges it; counted when no backup saw it."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from box_sdk_gen.managers.uploads import UploadFileAttributes, UploadFileAttributesParentField
from boxcheck import PASSWORD, Sandbox, sdk_client
from test_incremental import catalog_rows, tree_of

from support import run_cli

pytestmark = pytest.mark.slow


def backup(sandbox: Sandbox, env: dict[str, str], *extra: str) -> dict[str, Any]:
    proc = run_cli(["box", "backup", *sandbox.cli_args(), "--json", "--rate-per-user", "0", *extra], env=env)
    report: dict[str, Any] = json.loads(proc.stdout)
    assert report["status"] == "succeeded", report
    (user,) = report["users"]
    return user  # type: ignore[no-any-return]


def test_trash_is_kept_as_last_backed_up(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str]
) -> None:
    from boxvault.box.verify import entries_from_tree
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    sandbox = box_sandbox(users=1, files_per_user=30, seed=4)
    uid = sandbox.creds["users"][0]["id"]
    sdk = sdk_client(sandbox.url, sandbox.creds, uid)
    first = backup(sandbox, repo_env, "--init", "--user", uid)
    login, repo_path = first["login"], repo_env["RESTIC_REPOSITORY"]
    before = tree_of(repo_path, first["snapshot_id"])
    folders = [p for p, v in before.items() if v[0] == "dir" and p.count("/") == 2 and "/." not in p]
    folder_path = folders[0]
    folder_id = dict(before[folder_path][3])["box.id"].decode()
    a_file = next(
        p
        for p, v in before.items()
        if v[0] == "file" and not p.startswith(folder_path + "/") and "/." not in p
    )
    file_id = dict(before[a_file][3])["box.id"].decode()
    sdk.folders.delete_folder_by_id(folder_id, recursive=True)
    sdk.files.delete_file_by_id(file_id)
    late = sdk.uploads.upload_file(
        UploadFileAttributes("late.txt", UploadFileAttributesParentField(id="0")), io.BytesIO(b"late")
    )
    sdk.files.delete_file_by_id(late.entries[0].id)

    second = backup(sandbox, repo_env, "--user", uid)
    assert second["trash_missed"] == 1  # late.txt: in the trash before any backup saw it
    tree = tree_of(repo_path, second["snapshot_id"])
    trash = f"/{login}/.box-trash"
    kept_folder = f"{trash}/{folder_path.rsplit('/', 1)[1]}"
    kept_file = f"{trash}/{a_file.rsplit('/', 1)[1]}"
    # each item as the first snapshot held it: the same content blobs, the same subtree below
    assert tree[kept_file][2] == before[a_file][2] and tree[kept_file][2]
    below = {p[len(folder_path) :]: v[:3] for p, v in before.items() if p.startswith(folder_path + "/")}
    assert below and below == {
        p[len(kept_folder) :]: v[:3] for p, v in tree.items() if p.startswith(kept_folder + "/")
    }
    attrs = dict(tree[kept_folder][3])
    assert attrs["box.original_path"].decode() == folder_path[len(login) + 2 :]
    assert attrs["box.trashed_at"] and attrs["box.id"].decode() == folder_id
    assert folder_path not in tree and a_file not in tree
    assert second["trashed"] == 2 + len(below)

    # the catalog's rows are those a repair reads back from the tree (trashed_* under .box-trash)
    state = Path(repo_env["XDG_STATE_HOME"])
    rows = {r[1:] for r in catalog_rows(state, second["snapshot_id"])}
    repo = Repository.open(open_backend(repo_path), PASSWORD)
    try:
        snap = repo.find_snapshot(second["snapshot_id"])
        from_tree = {
            (*e.values()[:7], 0 if e.item_type.endswith("folder") else e.size, *e.values()[8:])
            for e in entries_from_tree(repo, snap)
        }
    finally:
        repo.close()
    rows = {(*r[:7], 0 if r[1].endswith("folder") else r[7], *r[8:]) for r in rows}
    assert rows == from_tree
    assert {r[1] for r in rows if r[2].startswith(".box-trash/")} == {"trashed_file", "trashed_folder"}

    # a full walk rebuilds the same trash, node for node
    third = backup(sandbox, repo_env, "--user", uid, "--full-walk")
    again = tree_of(repo_path, third["snapshot_id"])
    assert {p: v for p, v in again.items() if p.startswith(trash)} == {
        p: v for p, v in tree.items() if p.startswith(trash)
    }

    # purged from Box's trash: the next snapshot no longer holds it (older ones still do)
    sdk.trashed_files.delete_trashed_file_by_id(file_id)
    fourth = backup(sandbox, repo_env, "--user", uid)
    last = tree_of(repo_path, fourth["snapshot_id"])
    assert kept_file not in last and kept_folder in last
