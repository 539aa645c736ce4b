"""CCG with As-User, users, folder walks and downloads checked against sha1, through the official SDK."""

from __future__ import annotations

import hashlib

from box_sdk_gen import BoxAPIError

from support.sandbox import SandboxServer


def walk(client, folder_id: str = "0") -> list:
    files = []
    marker = None
    while True:
        page = client.folders.get_folder_items(folder_id, usemarker=True, marker=marker, limit=1000)
        for entry in page.entries:
            if entry.type.value == "folder":
                files += walk(client, entry.id)
            else:
                files.append(entry)
        marker = page.next_marker
        if not marker:
            return files


def test_ccg_enterprise_token_lists_users(sandbox: SandboxServer) -> None:
    client = sandbox.ccg_client()
    me = client.users.get_user_me()
    assert me.login.endswith("@boxdevedition.com")
    logins = {u.login for u in client.users.get_users(limit=1000).entries}
    assert {u["login"] for u in sandbox.users} <= logins
    assert len(logins) == len(sandbox.users) + 1  # plus the admin; the service account is not listed


def test_as_user_walk_and_download_match_sha1(sandbox: SandboxServer) -> None:
    user = sandbox.users[0]
    client = sandbox.ccg_client().with_as_user_header(user["id"])
    assert client.users.get_user_me().id == user["id"]
    files = walk(client)
    assert len(files) >= 40
    assert all(int(f.id) > 2**31 for f in files)  # ids beyond 32 bits, as on Box
    for entry in files[:15]:
        data = client.downloads.download_file(entry.id).read()
        assert hashlib.sha1(data).hexdigest() == entry.sha_1
        full = client.files.get_file_by_id(entry.id)
        assert full.size == len(data)
        assert full.owned_by.id in {u["id"] for u in sandbox.users}


def test_ccg_user_subject(sandbox: SandboxServer) -> None:
    user = sandbox.users[1]
    client = sandbox.ccg_client(user_id=user["id"])
    assert client.users.get_user_me().login == user["login"]


def test_as_user_needs_admin_token(sandbox: SandboxServer) -> None:
    user_client = sandbox.ccg_client(user_id=sandbox.users[0]["id"])
    try:
        user_client.with_as_user_header(sandbox.users[1]["id"]).users.get_user_me()
    except BoxAPIError as e:
        assert e.response_info.status_code == 403
        assert e.response_info.body["type"] == "error"
    else:
        raise AssertionError("As-User with a non-admin token must be refused")


def test_user_types_and_paging(sandbox: SandboxServer) -> None:
    external = sandbox.add_user("guest@partner.example.org", "Guest Partner", kind="external")
    try:
        client = sandbox.ccg_client()
        managed = {u.id for u in client.users.get_users(user_type="managed", limit=1000).entries}
        externals = {u.id for u in client.users.get_users(user_type="external", limit=1000).entries}
        everyone = {u.id for u in client.users.get_users(user_type="all", limit=1000).entries}
        assert externals == {external["id"]} and external["id"] not in managed
        # "all" holds external users only when filter_term is their whole login
        assert everyone == managed
        found = client.users.get_users(user_type="all", filter_term="guest@partner.example.org").entries
        assert [u.id for u in found] == [external["id"]]
        pages, marker = [], None
        while True:
            page = client.users.get_users(user_type="all", usemarker=True, marker=marker, limit=2)
            pages.append([u.id for u in page.entries])
            marker = page.next_marker
            if not marker:
                break
        assert [i for p in pages for i in p] == sorted(everyone, key=int) and len(pages) >= 2
        offset_page = client.users.get_users(user_type="all", offset=1, limit=2)
        assert offset_page.total_count == len(everyone) and len(offset_page.entries) == 2
    finally:
        sandbox.delete_user(external["id"])
