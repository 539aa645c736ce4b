"""A user with many files (issue 18): the full walk finishes every folder as soon as everything in it is
stored (post-order), so the builder holds the open folders, not the user's tree; progress names the folder
and the time left."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from boxcheck import Sandbox, restic, sdk_client, sdk_files, snapshot_nodes

from boxvault.box.postorder import PostOrder
from boxvault.box.progress import ProgressInfo
from boxvault.engine.builder import SnapshotBuilder
from boxvault.engine.tree import Node
from support import require_binary


def _open_dirs(b: SnapshotBuilder) -> list[str]:
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", b._root)]
    while stack:
        path, d = stack.pop()
        found.append(path or "/")
        stack.extend((f"{path}/{name}", c) for name, c in d.children.items() if not isinstance(c, Node))
    return found


class _InProcess:
    """One sandbox user backed up with `run_backup` in this process, run after run, into one repository,
    catalog, state and blob cache."""

    def __init__(self, sandbox: Sandbox, repo_env: dict[str, str], state: Path, **limits: Any) -> None:
        from boxvault.box.blobcache import BlobCache
        from boxvault.box.catalog import SqliteCatalog
        from boxvault.box.state import StateStore
        from boxvault.engine.repository import Repository
        from boxvault.engine.storage import open_backend

        self.sandbox, self.limits = sandbox, limits
        self.uid = sandbox.creds["users"][0]["id"]
        self.repo = Repository.init(open_backend(repo_env["RESTIC_REPOSITORY"]), repo_env["RESTIC_PASSWORD"])
        self.catalog, self.state = SqliteCatalog(state / "c.sqlite"), StateStore(state / "s.sqlite")
        self.cache = BlobCache(state / "b.sqlite", self.repo.id)

    def run(self, progress: Callable[[ProgressInfo], None] | None = None, **options: Any) -> Any:
        from boxvault.box.backup import BackupOptions, run_backup
        from boxvault.box.connect import CCGCredentials, Limits, connect

        creds = self.sandbox.creds
        conn = connect(
            CCGCredentials(creds["client_id"], creds["client_secret"], creds["enterprise_id"]),
            api_url=self.sandbox.url,
            limits=Limits(per_user_rps=0, **self.limits),
        )
        return run_backup(
            conn,
            self.repo,
            options=BackupOptions(enterprise_id=creds["enterprise_id"], **options),
            catalog=self.catalog,
            state=self.state,
            cache=self.cache,
            user_ids=[self.uid],
            progress=progress,
        )


def test_full_walk_finishes_folders_as_it_goes(
    box_sandbox: Callable[..., Sandbox],
    repo_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_binary("restic")
    sandbox = box_sandbox(users=1, files_per_user=300, large_files=0, seed=11)
    creds = sandbox.creds
    uid = creds["users"][0]["id"]
    finished: list[str] = []
    at_commit: list[list[str]] = []
    finish, commit = SnapshotBuilder.finish_dir, SnapshotBuilder.commit

    def spy_finish(self: SnapshotBuilder, path: str) -> bytes:
        finished.append(path)
        return finish(self, path)

    def spy_commit(self: SnapshotBuilder) -> str:
        at_commit.append(_open_dirs(self))
        return commit(self)

    monkeypatch.setattr(SnapshotBuilder, "finish_dir", spy_finish)
    monkeypatch.setattr(SnapshotBuilder, "commit", spy_commit)
    seen: list[ProgressInfo] = []
    report = _InProcess(sandbox, repo_env, tmp_path / "state").run(seen.append, use_events=False)
    assert report.status == "succeeded", report.to_json()
    (ur,) = report.users
    assert ur.folders > 10
    # every folder was finished once, during the walk; at the commit only the user's root is open
    assert len(finished) == len(set(finished)) == ur.folders
    (open_at_commit,) = at_commit
    assert open_at_commit == ["/", f"/{ur.login}"], open_at_commit
    files = sdk_files(sdk_client(sandbox.url, creds, uid))
    nodes = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], repo_env["RESTIC_PASSWORD"], ur.snapshot_id)
    assert set(nodes) == set(files)
    for fid, f in files.items():
        assert nodes[fid][1]["box.sha1"].decode() == f.sha1
    assert "no errors were found" in restic(repo_env, "check").stdout
    # progress named the folders as the walk listed them
    folders = {i.folder for i in seen if i.folder}
    assert folders and all(f.count("/") < 10 for f in folders)
    assert any(f"{ur.login}: /" in i.describe() for i in seen)


def test_post_order_counts_listing_files_and_subfolders() -> None:
    finished: list[str] = []
    post = PostOrder(finished.append)
    post.opened("a")
    post.opened("a/b")  # a waits for its listing and for b
    post.started("a")  # a file of a being stored
    post.done("a")  # a's listing is done
    post.opened("a/b/c")
    post.done("a/b")  # b listed; waits for c
    assert finished == []
    post.done("a/b/c")  # c listed, empty: c, then b finish; a still waits for its file
    assert finished == ["a/b/c", "a/b"]
    post.done("a")  # the file is stored
    assert finished == ["a/b/c", "a/b", "a"]
    assert post.open_folders == 0
    post.done("a")  # late or unknown: nothing happens
    assert finished == ["a/b/c", "a/b", "a"]


def test_a_failed_finish_leaves_the_folder_to_the_commit() -> None:
    def refuse(path: str) -> None:
        raise RuntimeError("no")

    post = PostOrder(refuse)
    post.opened("x")
    post.done("x")
    assert post.finished == 0 and post.open_folders == 0


@pytest.mark.parametrize(
    ("info", "text"),
    [
        (
            ProgressInfo("ann", 5, 50, 10, 100, 10, 10.0, True, "Projects/2024"),
            "ann: /Projects/2024 · listing",
        ),
        (ProgressInfo("ann", 5, 50, 50, 100, 50, 10.0, False, "A"), "ann: /A · less than 2 minutes left"),
        (ProgressInfo("ann", 5, 50, 10, 910, 10, 10.0, False, "A"), "ann: /A · about 15 minutes left"),
        (ProgressInfo("ann", 5, 50, 1, 10_000, 1, 10.0, False, "A"), "ann: /A · about 27.8 hours left"),
    ],
)
def test_progress_says_where_and_how_long(info: ProgressInfo, text: str) -> None:
    assert info.describe().startswith(text)


def test_bad_input_is_reported_the_rest_backed_up_and_the_next_run_catches_up(
    box_sandbox: Callable[..., Sandbox],
    repo_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A folder whose listing fails, a file deleted between its listing and its download, a file whose
    bytes change during the download (sha1 mismatch): each is reported, the rest is stored, the next run
    catches up."""
    require_binary("restic")
    from boxvault.box.model import BoxItem
    from boxvault.box.storing import Storing

    sandbox = box_sandbox(users=1, files_per_user=80, large_files=0, seed=12)
    creds = sandbox.creds
    uid = creds["users"][0]["id"]
    sdk = sdk_client(sandbox.url, creds, uid)
    top = sdk.folders.get_folder_items("0", fields=["id", "type", "name"]).raw_data["entries"]
    folder = next(e for e in top if e["type"] == "folder")
    in_folder = set(sdk_files_under(sdk, folder["id"]))
    every = sdk_files(sdk)
    outside = sorted(set(every) - in_folder)
    assert in_folder and len(outside) >= 2
    vanishing = outside[0]
    backups = _InProcess(sandbox, repo_env, tmp_path / "state", max_attempts=2, retry_base_interval=0.01)

    def run(**options: Any) -> Any:
        (ur,) = backups.run(use_events=False, **options).users
        return ur

    # 1. the folder's listing fails every attempt; a file is deleted just before its download
    process = Storing._process

    def delete_first(self: Storing, builder: Any, item: BoxItem, *args: Any) -> None:
        if item.id == vanishing:
            sdk.files.delete_file_by_id(vanishing)
        process(self, builder, item, *args)

    monkeypatch.setattr(Storing, "_process", delete_first)
    sandbox.set_faults(fail_next=[503, 503], paths=[f"/2.0/folders/{folder['id']}/items"])
    first = run()
    monkeypatch.setattr(Storing, "_process", process)
    sandbox.clear_faults()
    assert first.status == "partially_succeeded" and first.snapshot_id
    (failure,) = first.failures
    assert failure.item_id == folder["id"] and "listing failed" in failure.error
    assert first.vanished == 1
    stored = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], repo_env["RESTIC_PASSWORD"], first.snapshot_id)
    assert set(stored) == set(outside) - {vanishing}

    # 2. the next run lists the folder; one download comes back with other bytes on every attempt
    sandbox.set_faults(corrupt_next=3, paths=["/dl/"])
    second = run(download_workers=1)
    sandbox.clear_faults()
    (mismatch,) = second.failures
    assert "does not match" in mismatch.error and mismatch.item_id in in_folder
    stored = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], repo_env["RESTIC_PASSWORD"], second.snapshot_id)
    assert set(stored) == (set(every) - {vanishing, mismatch.item_id})

    # 3. and the one after stores that file too: the user is whole, byte for byte
    third = run()
    assert third.status == "succeeded" and not third.failures
    stored = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], repo_env["RESTIC_PASSWORD"], third.snapshot_id)
    assert set(stored) == set(every) - {vanishing}
    for fid in stored:
        assert stored[fid][1]["box.sha1"].decode() == every[fid].sha1
    assert "no errors were found" in restic(repo_env, "check", "--read-data").stdout


def sdk_files_under(sdk: Any, folder_id: str) -> list[str]:
    """File ids anywhere below the folder."""
    found, todo = [], [folder_id]
    while todo:
        for e in sdk.folders.get_folder_items(todo.pop(), fields=["id", "type"], limit=1000).raw_data[
            "entries"
        ]:
            if e["type"] == "folder":
                todo.append(e["id"])
            elif e["type"] == "file":
                found.append(e["id"])
    return found


def test_cli_shows_a_progress_bar_with_the_folder_on_a_terminal(
    box_sandbox: Callable[..., Sandbox], repo_env: dict[str, str]
) -> None:
    import os
    import pty
    import select
    import subprocess

    from support import boxvault_cmd, cli_env, run_cli

    sandbox = box_sandbox(users=1, files_per_user=60, large_files=0, seed=13)
    uid = sandbox.creds["users"][0]["id"]
    run_cli(["repo", "init"], env=repo_env)
    sandbox.set_faults(latency_ms=30, paths=["/dl/"])  # long enough for the bar to redraw
    master, slave = pty.openpty()
    env = cli_env({**repo_env, "COLUMNS": "200", "TERM": "xterm"})
    proc = subprocess.Popen(
        boxvault_cmd("box", "backup", *sandbox.cli_args(), "--user", uid, "--rate-per-user", "0"),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(60) == 0
    os.close(master)
    text = out.decode(errors="replace")
    login = sandbox.creds["users"][0]["login"]
    import re

    assert re.search(re.escape(f"{login}: /") + r"\w", text), text[-2000:]  # the user and a folder in it
    assert re.search(r"\d+/\d+ items", text)


def test_incremental_run_finishes_folders_too(
    box_sandbox: Callable[..., Sandbox],
    repo_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = box_sandbox(users=1, files_per_user=300, large_files=0, seed=14)
    creds = sandbox.creds
    uid = creds["users"][0]["id"]
    backups = _InProcess(sandbox, repo_env, tmp_path / "state")

    def run() -> Any:
        (ur,) = backups.run().users
        return ur

    first = run()
    assert first.status == "succeeded" and first.full_walk
    sandbox.mutate(0.05, seed=3)
    at_commit: list[list[str]] = []
    commit = SnapshotBuilder.commit

    def spy_commit(self: SnapshotBuilder) -> str:
        at_commit.append(_open_dirs(self))
        return commit(self)

    monkeypatch.setattr(SnapshotBuilder, "commit", spy_commit)
    second = run()
    assert second.status == "succeeded" and not second.full_walk and not second.unchanged
    (open_at_commit,) = at_commit
    assert open_at_commit == ["/", f"/{second.login}"], open_at_commit
    files = sdk_files(sdk_client(sandbox.url, creds, uid))
    nodes = snapshot_nodes(repo_env["RESTIC_REPOSITORY"], repo_env["RESTIC_PASSWORD"], second.snapshot_id)
    assert set(nodes) == set(files)
    for fid, f in files.items():
        assert nodes[fid][1]["box.sha1"].decode() == f.sha1
