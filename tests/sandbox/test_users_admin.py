"""Enterprise users as an admin changes them, through the official SDK: create, update, delete (refused while
the user owns content, unless forced), transfer of a user's content, and the admin events they leave."""

from __future__ import annotations

import io
from typing import Any

import pytest
from box_sdk_gen import (
    BoxAPIError,
    GetEventsStreamType,
    TransferOwnedFolderOwnedBy,
    UploadFileAttributes,
    UploadFileAttributesParentField,
)

from support.sandbox import SandboxServer


def _id(obj: Any) -> str:
    """The id of a mini object, which the SDK leaves as a plain dict inside unions (items, event sources)."""
    return str(obj["id"] if isinstance(obj, dict) else obj.id)


def _error(exc: pytest.ExceptionInfo[BoxAPIError]) -> tuple[int, str]:
    return exc.value.response_info.status_code, str(exc.value.response_info.body.get("code"))


def test_create_update_and_refuse_bad_input(fresh_sandbox: SandboxServer) -> None:
    admin = fresh_sandbox.ccg_client()
    made = admin.users.create_user("Nora New", login="nora@example.com")
    assert made.login == "nora@example.com" and made.name == "Nora New" and made.status.value == "active"
    assert made.id in {u.id for u in admin.users.get_users().entries}

    with pytest.raises(BoxAPIError) as taken:
        admin.users.create_user("Other Nora", login="nora@example.com")
    assert _error(taken) == (409, "user_login_already_used")
    with pytest.raises(BoxAPIError) as bad:
        admin.users.create_user("No Login", login="not-an-address")
    assert _error(bad) == (400, "bad_request")

    changed = admin.users.update_user_by_id(made.id, name="Nora Renamed", status="inactive")
    assert changed.name == "Nora Renamed" and changed.status.value == "inactive"
    assert admin.users.get_user_by_id(made.id).name == "Nora Renamed"
    with pytest.raises(BoxAPIError) as role:
        admin.users.update_user_by_id(made.id, extra_headers=None, role="owner")
    assert _error(role)[0] == 400

    member = admin.with_as_user_header(fresh_sandbox.users[1]["id"])  # a plain user may not manage users
    with pytest.raises(BoxAPIError) as denied:
        member.users.create_user("Sneaky", login="sneaky@example.com")
    assert _error(denied)[0] == 403


def test_delete_refused_with_content_then_transfer_then_delete(fresh_sandbox: SandboxServer) -> None:
    admin = fresh_sandbox.ccg_client()
    keeper, leaver = fresh_sandbox.users[0], fresh_sandbox.users[1]
    mine = admin.with_as_user_header(leaver["id"])
    listed = mine.folders.get_folder_items("0", fields=["name", "owned_by"]).entries
    before = {i.name for i in listed if _id(i.owned_by) == leaver["id"]}  # not the folders shared with them
    assert before

    with pytest.raises(BoxAPIError) as refused:
        admin.users.delete_user_by_id(leaver["id"])
    assert _error(refused) == (400, "bad_request")
    assert "managed content" in refused.value.response_info.body["message"]

    folder = admin.transfer.transfer_owned_folder(leaver["id"], TransferOwnedFolderOwnedBy(id=keeper["id"]))
    assert folder.name == f"{leaver['login']} - {leaver['name']}'s Files and Folders"
    assert folder.owned_by.id == keeper["id"]
    theirs = admin.with_as_user_header(keeper["id"])
    assert {i.name for i in theirs.folders.get_folder_items(folder.id).entries} == before

    admin.users.delete_user_by_id(leaver["id"])  # owns nothing now
    with pytest.raises(BoxAPIError) as gone:
        admin.users.get_user_by_id(leaver["id"])
    assert _error(gone)[0] == 404
    assert leaver["id"] not in {u.id for u in admin.users.get_users().entries}

    events = admin.events.get_events(stream_type=GetEventsStreamType.ADMIN_LOGS, limit=500).entries
    deleted = [e for e in events if e.event_type and e.event_type.value == "DELETE_USER"]
    assert [_id(e.source) for e in deleted] == [leaver["id"]]


def test_forced_delete_takes_the_content_with_the_user(fresh_sandbox: SandboxServer) -> None:
    admin = fresh_sandbox.ccg_client()
    made = admin.users.create_user("Temp Worker", login="temp@example.com")
    own = admin.with_as_user_header(made.id)
    attrs = UploadFileAttributes(name="notes.txt", parent=UploadFileAttributesParentField(id="0"))
    file_id = own.uploads.upload_file(attrs, io.BytesIO(b"notes")).entries[0].id
    admin.users.delete_user_by_id(made.id, force=True)
    with pytest.raises(BoxAPIError) as gone:
        admin.files.get_file_by_id(file_id)
    assert _error(gone)[0] == 404
    with pytest.raises(BoxAPIError) as again:
        admin.users.delete_user_by_id(made.id, force=True)
    assert _error(again)[0] == 404
