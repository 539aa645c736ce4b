"""A 5,000-file tree walked with marker paging; seed/mutate through the CLI while serving; events."""

from __future__ import annotations

import json

import pytest
from box_sdk_gen import CreateFolderParent

from support import run_cli
from support.sandbox import SandboxServer, running_sandbox


def walk(client, folder_id: str, limit: int, counts: dict[str, int]) -> None:
    marker = None
    while True:
        page = client.folders.get_folder_items(
            folder_id, usemarker=True, marker=marker, limit=limit, fields=["name", "sha1", "size"]
        )
        counts["requests"] += 1
        for entry in page.entries:
            if entry.type.value == "folder":
                counts["folders"] += 1
                walk(client, entry.id, limit, counts)
            else:
                counts["files"] += 1
                assert entry.sha_1 is not None and entry.size is not None
        marker = page.next_marker
        if not marker:
            return


def test_walk_5000_files_with_marker_paging(tmp_path) -> None:
    with running_sandbox(tmp_path, users=1, files_per_user=5000, seed=3) as sb:
        client = sb.ccg_client().with_as_user_header(sb.users[0]["id"])
        counts = {"files": 0, "folders": 0, "requests": 0}
        walk(client, "0", 1000, counts)
        assert counts["files"] == 5000
        assert counts["folders"] == 5000 // 8
        # the root of one page of 1000 with a marker, then the rest
        root = client.folders.get_folder_items("0", usemarker=True, limit=7)
        assert len(root.entries) == 7 and root.next_marker
        second = client.folders.get_folder_items("0", usemarker=True, limit=7, marker=root.next_marker)
        assert not {e.id for e in root.entries} & {e.id for e in second.entries}
        # offset paging with a sort agrees with the total count
        page = client.folders.get_folder_items("0", offset=0, limit=1000)
        assert page.total_count == len(page.entries) or page.total_count > 1000


def test_seed_is_deterministic(tmp_path) -> None:
    a = json.loads(
        run_cli(
            [
                "sandbox",
                "seed",
                "--data",
                str(tmp_path / "a"),
                "--users",
                "2",
                "--files-per-user",
                "30",
                "--seed",
                "9",
                "--large-files",
                "0",
                "--json",
            ]
        ).stdout
    )
    b = json.loads(
        run_cli(
            [
                "sandbox",
                "seed",
                "--data",
                str(tmp_path / "b"),
                "--users",
                "2",
                "--files-per-user",
                "30",
                "--seed",
                "9",
                "--large-files",
                "0",
                "--json",
            ]
        ).stdout
    )
    c = json.loads(
        run_cli(
            [
                "sandbox",
                "seed",
                "--data",
                str(tmp_path / "c"),
                "--users",
                "2",
                "--files-per-user",
                "30",
                "--seed",
                "10",
                "--large-files",
                "0",
                "--json",
            ]
        ).stdout
    )
    assert a == b
    assert a["client_id"] != c["client_id"]
    for key in ("client_id", "client_secret", "enterprise_id", "admin_user_id", "users"):
        assert key in a
    assert all({"id", "login", "name"} <= set(u) for u in a["users"])


def test_mutate_while_serving_and_events(fresh_sandbox: SandboxServer) -> None:
    sb = fresh_sandbox
    admin = sb.ccg_client()
    position = admin.events.get_events(stream_type="admin_logs", stream_position="now").next_stream_position
    user = sb.users[0]
    user_client = admin.with_as_user_header(user["id"])
    user_position = user_client.events.get_events(stream_position="now").next_stream_position
    before = {e.id: e.sha_1 for e in _files(user_client)}
    report = json.loads(
        run_cli(
            ["sandbox", "mutate", "--data", str(sb.data_dir), "--fraction", "0.5", "--seed", "4", "--json"]
        ).stdout
    )
    counts = report["counts"]
    assert sum(counts.values()) > 0
    assert set(counts) >= {"new_versions", "new_files", "renames", "moves", "trashed", "deleted"}
    changed = set(report["changed_file_ids"])
    assert changed == set(report["ids"]["new_versions"]) | set(report["ids"]["new_files"])
    events = []
    pos = position
    while True:
        chunk = admin.events.get_events(stream_type="admin_logs", stream_position=str(pos), limit=500)
        events += chunk.entries
        if not chunk.entries:
            break
        pos = chunk.next_stream_position
    uploads = {e.source.item_id for e in events if e.event_type.value == "UPLOAD"}
    assert changed <= uploads
    deleted = {e.source.item_id for e in events if e.event_type.value == "DELETE"}
    assert set(report["ids"]["trashed"]) | set(report["ids"]["deleted"]) <= deleted
    # the user's own stream holds the user's changes; the server saw the mutation without a restart
    after = {e.id: e.sha_1 for e in _files(user_client)}
    mine_changed = {i for i in report["ids"]["new_versions"] if i in before}
    assert all(after[i] != before[i] for i in mine_changed if i in after)
    user_events = user_client.events.get_events(stream_position=str(user_position), limit=500)
    if mine_changed:
        assert mine_changed <= {
            e.source.id for e in user_events.entries if e.event_type.value == "ITEM_UPLOAD"
        }
    # a second mutate with the same seed on the new state reports its own changes
    second = sb.mutate(fraction=0.1, seed=5)
    assert second["counts"] and second["fraction"] == 0.1


def test_mutate_cli_without_data_is_a_clear_error(tmp_path) -> None:
    proc = run_cli(["sandbox", "mutate", "--data", str(tmp_path / "none"), "--fraction", "0.1"], check=False)
    assert proc.returncode == 2
    assert "no sandbox" in proc.stderr and "Traceback" not in proc.stderr


def _files(client, folder_id: str = "0") -> list:
    out = []
    for e in client.folders.get_folder_items(folder_id, limit=1000, fields=["sha1", "name"]).entries:
        if e.type.value == "folder":
            out += _files(client, e.id)
        elif e.type.value == "file":
            out.append(e)
    return out


@pytest.mark.parametrize("fraction", ["-1", "2", "abc"])
def test_mutate_rejects_bad_fractions(tmp_path, fraction: str) -> None:
    proc = run_cli(["sandbox", "mutate", "--data", str(tmp_path), "--fraction", fraction], check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_state_survives_a_restart(fresh_sandbox: SandboxServer) -> None:
    client = fresh_sandbox.ccg_client().with_as_user_header(fresh_sandbox.users[0]["id"])
    folder = client.folders.create_folder("Kept across restarts", CreateFolderParent(id="0"))
    fresh_sandbox.restart()
    client = fresh_sandbox.ccg_client().with_as_user_header(fresh_sandbox.users[0]["id"])
    assert client.folders.get_folder_by_id(folder.id).name == "Kept across restarts"


def test_long_polling_wakes_up_on_a_change(sandbox: SandboxServer) -> None:
    import threading
    import time

    import requests

    from .schema import spec_available, validate

    token = sandbox.developer_token(sandbox.users[0]["id"])
    headers = {"Authorization": f"Bearer {token}"}
    info = requests.options(f"{sandbox.url}/2.0/events", headers=headers, timeout=10)
    spec_available()
    validate(info, "/events")
    url = info.json()["entries"][0]["url"]
    position = requests.get(
        f"{sandbox.url}/2.0/events?stream_position=now", headers=headers, timeout=10
    ).json()["next_stream_position"]
    answer: dict = {}

    def poll() -> None:
        answer["body"] = requests.get(f"{url}&stream_position={position}", headers=headers, timeout=60).json()
        answer["at"] = time.monotonic()

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive()  # nothing happened yet: the request is held open
    changed_at = time.monotonic()
    client = sandbox.ccg_client().with_as_user_header(sandbox.users[0]["id"])
    client.folders.create_folder(f"long poll {int(changed_at)}", CreateFolderParent(id="0"))
    waiter.join(timeout=30)
    assert answer["body"] == {"message": "new_change"}
    assert answer["at"] - changed_at < 5


def test_control_reset_and_seed(fresh_sandbox: SandboxServer) -> None:
    sb = fresh_sandbox
    sb.control("POST", "reset")
    health = sb.control("GET", "health")
    assert health["seeded"] is False and health["files"] == 0
    seeded = sb.control("POST", "seed", {"users": 2, "files_per_user": 10, "seed": 21, "large_files": 0})
    assert len(seeded["users"]) == 2 and seeded["files"] > 0
    assert sb.control("GET", "credentials")["client_id"] == seeded["client_id"]
    sb.client_id, sb.client_secret = seeded["client_id"], seeded["client_secret"]
    sb.enterprise_id = seeded["enterprise_id"]
    users = {u.id for u in sb.ccg_client().users.get_users(user_type="managed").entries}
    assert {u["id"] for u in seeded["users"]} <= users


def test_unusable_data_directory_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = run_cli(
        ["sandbox", "seed", "--data", str(blocker), "--users", "1", "--files-per-user", "1"], check=False
    )
    assert proc.returncode == 2
    assert "cannot use" in proc.stderr and "Traceback" not in proc.stderr
