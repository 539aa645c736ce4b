"""Uploads, versions, chunked uploads, conflicts, trash, shared links, metadata, comments, links, collabs."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import UTC, datetime

import pytest
import requests
from box_sdk_gen import (
    AddShareLinkToFileSharedLink,
    AddShareLinkToFileSharedLinkAccessField,
    BoxAPIError,
    CopyFileParent,
    CopyFolderParent,
    CreateCollaborationAccessibleBy,
    CreateCollaborationAccessibleByTypeField,
    CreateCollaborationItem,
    CreateCollaborationItemTypeField,
    CreateCollaborationRole,
    CreateCommentItem,
    CreateCommentItemTypeField,
    CreateFileMetadataByIdScope,
    CreateFolderParent,
    CreateWebLinkParent,
    PreflightFileUploadCheckParent,
    PromoteFileVersionType,
    UpdateFileByIdParent,
    UploadFileAttributes,
    UploadFileAttributesParentField,
    UploadFileVersionAttributes,
)

from support.sandbox import SandboxServer


@pytest.fixture()
def user_client(sandbox: SandboxServer):
    return sandbox.ccg_client().with_as_user_header(sandbox.users[0]["id"])


@pytest.fixture()
def folder(user_client) -> str:
    return user_client.folders.create_folder(f"work {uuid.uuid4().hex[:8]}", CreateFolderParent(id="0")).id


def upload(client, folder_id: str, name: str, data: bytes, **kw):
    attrs = UploadFileAttributes(name=name, parent=UploadFileAttributesParentField(id=folder_id), **kw)
    return client.uploads.upload_file(attrs, io.BytesIO(data)).entries[0]


def test_upload_keeps_content_times_and_new_version_checks_if_match(user_client, folder: str) -> None:
    created = datetime(2020, 5, 17, 8, 30, 1, tzinfo=UTC)
    modified = datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = b"first content \xe2\x9c\x93" * 100
    f = upload(
        user_client,
        folder,
        "Résumé Ünïcode.txt",
        data,
        content_created_at=created,
        content_modified_at=modified,
    )
    assert f.sha_1 == hashlib.sha1(data).hexdigest()
    assert f.size == len(data)
    assert f.content_created_at == created and f.content_modified_at == modified
    assert f.file_version.sha_1 == f.sha_1
    assert user_client.downloads.download_file(f.id).read() == data
    # a stale etag: 412
    with pytest.raises(BoxAPIError) as err:
        user_client.uploads.upload_file_version(
            f.id, UploadFileVersionAttributes(name=f.name), io.BytesIO(b"nope"), if_match="999"
        )
    assert err.value.response_info.status_code == 412
    v2 = b"second content"
    new = user_client.uploads.upload_file_version(
        f.id, UploadFileVersionAttributes(name=f.name), io.BytesIO(v2), if_match=f.etag
    ).entries[0]
    assert new.id == f.id and new.sha_1 == hashlib.sha1(v2).hexdigest()
    assert new.file_version.id != f.file_version.id and new.etag != f.etag
    versions = user_client.file_versions.get_file_versions(f.id)
    assert [v.id for v in versions.entries] == [f.file_version.id]
    assert user_client.downloads.download_file(f.id, version=f.file_version.id).read() == data
    assert user_client.downloads.download_file(f.id).read() == v2
    with pytest.raises(BoxAPIError) as err:
        user_client.file_versions.delete_file_version_by_id(f.id, new.file_version.id)  # the current one
    assert err.value.response_info.status_code == 400
    promoted = user_client.file_versions.promote_file_version(
        f.id, id=f.file_version.id, type=PromoteFileVersionType.FILE_VERSION
    )
    assert promoted.sha_1 == f.sha_1 and promoted.id not in (f.file_version.id, new.file_version.id)
    assert user_client.downloads.download_file(f.id).read() == data


def test_content_md5_is_checked(user_client, folder: str) -> None:
    with pytest.raises(BoxAPIError) as err:
        user_client.uploads.upload_file(
            UploadFileAttributes(name="x.bin", parent=UploadFileAttributesParentField(id=folder)),
            io.BytesIO(b"abc"),
            content_md_5="0" * 40,
        )
    assert err.value.response_info.status_code == 400 and err.value.response_info.code == "bad_digest"
    ok = user_client.uploads.upload_file(
        UploadFileAttributes(name="x.bin", parent=UploadFileAttributesParentField(id=folder)),
        io.BytesIO(b"abc"),
        content_md_5=hashlib.sha1(b"abc").hexdigest(),
    )
    assert ok.entries[0].size == 3


def test_name_conflicts(user_client, folder: str) -> None:
    first = upload(user_client, folder, "Report.PDF", b"1")
    with pytest.raises(BoxAPIError) as err:
        upload(user_client, folder, "report.pdf", b"2")  # names are unique ignoring case
    info = err.value.response_info
    assert info.status_code == 409 and info.code == "item_name_in_use"
    assert info.context_info["conflicts"]["id"] == first.id  # an object for uploads
    sub = user_client.folders.create_folder("Sub", CreateFolderParent(id=folder))
    with pytest.raises(BoxAPIError) as err:
        user_client.folders.create_folder("SUB", CreateFolderParent(id=folder))
    conflicts = err.value.response_info.context_info["conflicts"]
    assert isinstance(conflicts, list) and conflicts[0]["id"] == sub.id  # an array for folders
    with pytest.raises(BoxAPIError) as err:
        user_client.uploads.preflight_file_upload_check(
            name="REPORT.pdf", size=1, parent=PreflightFileUploadCheckParent(id=folder)
        )
    assert err.value.response_info.status_code == 409
    ok = user_client.uploads.preflight_file_upload_check(
        name="other.pdf", size=10, parent=PreflightFileUploadCheckParent(id=folder)
    )
    assert ok.upload_url.endswith("/api/2.0/files/content")


@pytest.mark.parametrize("name", ["a/b", "back\\slash", "trailing ", ".", "..", "x" * 256, ""])
def test_invalid_names_are_400(user_client, folder: str, name: str) -> None:
    with pytest.raises(BoxAPIError) as err:
        user_client.folders.create_folder(name, CreateFolderParent(id=folder))
    assert err.value.response_info.status_code == 400
    assert err.value.response_info.body["type"] == "error"


def test_upload_big_file_in_chunks(user_client, folder: str) -> None:
    size = 60 * 1024 * 1024 + 4321
    data = os.urandom(size)
    f = user_client.chunked_uploads.upload_big_file(io.BytesIO(data), "big video.mp4", size, folder)
    assert f.size == size and f.sha_1 == hashlib.sha1(data).hexdigest()
    got = hashlib.sha1(user_client.downloads.download_file(f.id).read()).hexdigest()
    assert got == f.sha_1
    # a new version through a session too
    data2 = data[::-1]
    v = user_client.chunked_uploads.upload_big_file_version(f.id, io.BytesIO(data2), size)
    assert v.sha_1 == hashlib.sha1(data2).hexdigest()


def test_range_downloads(sandbox: SandboxServer, user_client) -> None:
    entries = user_client.folders.get_folder_items("0", limit=1000).entries
    folder_id = next(e.id for e in entries if e.type.value == "folder")
    files = [
        e
        for e in user_client.folders.get_folder_items(folder_id, limit=1000).entries
        if e.type.value == "file"
    ]
    target = next((f for f in files if f.name), None)
    assert target is not None
    whole = user_client.downloads.download_file(target.id).read()
    if len(whole) < 10:
        pytest.skip("picked an empty file")
    part = user_client.downloads.download_file(target.id, range="bytes=3-9").read()
    assert part == whole[3:10]
    token = sandbox.developer_token(sandbox.users[0]["id"])
    r = requests.get(
        f"{sandbox.url}/2.0/files/{target.id}/content",
        headers={"Authorization": f"Bearer {token}"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 302 and r.headers["location"].startswith(f"{sandbox.url}/dl/")
    tail = requests.get(r.headers["location"], headers={"Range": "bytes=-5"}, timeout=10)
    assert tail.status_code == 206 and tail.content == whole[-5:]
    bad = requests.get(r.headers["location"], headers={"Range": f"bytes={len(whole) + 5}-"}, timeout=10)
    assert bad.status_code == 416
    forged = requests.get(r.headers["location"][:-4] + "0000", timeout=10)
    assert forged.status_code == 403


def test_rename_move_trash_restore_purge(user_client, folder: str) -> None:
    f = upload(user_client, folder, "move me.txt", b"m")
    other = user_client.folders.create_folder("Other", CreateFolderParent(id=folder))
    moved = user_client.files.update_file_by_id(
        f.id, name="moved.txt", parent=UpdateFileByIdParent(id=other.id)
    )
    assert moved.name == "moved.txt" and moved.parent.id == other.id
    assert [p.id for p in moved.path_collection.entries][-1] == other.id
    user_client.files.delete_file_by_id(f.id)
    # Box still answers a trashed file, marked as such
    assert user_client.files.get_file_by_id(f.id, fields=["item_status"]).item_status.value == "trashed"
    trashed = user_client.trashed_files.get_trashed_file_by_id(f.id)
    assert trashed.item_status.value == "trashed"
    listed = user_client.trashed_items.get_trashed_items(limit=1000)
    assert f.id in {e.id for e in listed.entries}
    restored = user_client.trashed_files.restore_file_from_trash(f.id)
    assert restored.item_status.value == "active"
    user_client.folders.delete_folder_by_id(other.id, recursive=True)
    # the file went to the trash with its folder; purge the folder for good
    user_client.trashed_folders.delete_trashed_folder_by_id(other.id)
    with pytest.raises(BoxAPIError):
        user_client.trashed_files.get_trashed_file_by_id(f.id)
    with pytest.raises(BoxAPIError) as purged:
        user_client.files.get_file_by_id(f.id)  # purged: gone for good
    assert purged.value.response_info.status_code == 404


def test_shared_links_metadata_comments_web_links(user_client, folder: str) -> None:
    f = upload(user_client, folder, "shared.txt", b"s")
    linked = user_client.shared_links_files.add_share_link_to_file(
        f.id,
        "shared_link",
        shared_link=AddShareLinkToFileSharedLink(access=AddShareLinkToFileSharedLinkAccessField.OPEN),
    )
    assert linked.shared_link.access.value == "open" and linked.shared_link.url
    events, position = [], "0"
    while chunk := user_client.events.get_events(stream_position=position, limit=500):
        if not chunk.entries:
            break
        events += chunk.entries
        position = str(chunk.next_stream_position)
    assert any(e.event_type.value == "ITEM_SHARED_CREATE" and e.source.id == f.id for e in events)
    md = user_client.file_metadata.create_file_metadata_by_id(
        f.id, CreateFileMetadataByIdScope.GLOBAL, "properties", {"project": "apollo", "stage": "draft"}
    )
    assert md.extra_data["project"] == "apollo"
    listed = user_client.file_metadata.get_file_metadata(f.id)
    assert listed.entries and listed.entries[0].template == "properties"
    with pytest.raises(BoxAPIError) as err:
        user_client.file_metadata.create_file_metadata_by_id(
            f.id, CreateFileMetadataByIdScope.GLOBAL, "properties", {}
        )
    assert err.value.response_info.status_code == 409
    comment = user_client.comments.create_comment(
        "Looks good", CreateCommentItem(id=f.id, type=CreateCommentItemTypeField.FILE)
    )
    assert comment.message == "Looks good"
    assert [c.id for c in user_client.comments.get_file_comments(f.id).entries] == [comment.id]
    link = user_client.web_links.create_web_link(
        "https://example.com/docs", CreateWebLinkParent(id=folder), name="Docs link"
    )
    assert link.url == "https://example.com/docs"
    kinds = {e.type.value for e in user_client.folders.get_folder_items(folder).entries}
    assert kinds == {"file", "web_link"}


def test_collaboration_shows_folder_in_collaborators_tree(
    sandbox: SandboxServer, user_client, folder: str
) -> None:
    other = sandbox.users[2]
    upload(user_client, folder, "for you.txt", b"hi")
    collab = user_client.user_collaborations.create_collaboration(
        CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id=folder),
        CreateCollaborationAccessibleBy(type=CreateCollaborationAccessibleByTypeField.USER, id=other["id"]),
        CreateCollaborationRole.EDITOR,
    )
    assert collab.accessible_by.id == other["id"]
    other_client = sandbox.ccg_client().with_as_user_header(other["id"])
    root = other_client.folders.get_folder_items("0", limit=1000)
    assert folder in {e.id for e in root.entries}
    names = {e.name for e in other_client.folders.get_folder_items(folder).entries}
    assert "for you.txt" in names
    listed = user_client.list_collaborations.get_folder_collaborations(folder)
    assert collab.id in {c.id for c in listed.entries}
    user_client.user_collaborations.delete_collaboration_by_id(collab.id)
    with pytest.raises(BoxAPIError):
        other_client.folders.get_folder_items(folder)


def test_collaborator_roles_are_enforced(sandbox: SandboxServer, user_client, folder: str) -> None:
    f = upload(user_client, folder, "read only.txt", b"look but do not touch")
    viewer = sandbox.users[1]
    user_client.user_collaborations.create_collaboration(
        CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id=folder),
        CreateCollaborationAccessibleBy(type=CreateCollaborationAccessibleByTypeField.USER, id=viewer["id"]),
        CreateCollaborationRole.VIEWER,
    )
    as_viewer = sandbox.ccg_client().with_as_user_header(viewer["id"])
    assert as_viewer.downloads.download_file(f.id).read() == b"look but do not touch"
    for attempt in (
        lambda: upload(as_viewer, folder, "new.txt", b"x"),
        lambda: as_viewer.files.update_file_by_id(f.id, name="renamed.txt"),
        lambda: as_viewer.files.delete_file_by_id(f.id),
        lambda: as_viewer.folders.create_folder("sub", CreateFolderParent(id=folder)),
    ):
        with pytest.raises(BoxAPIError) as err:
            attempt()
        assert err.value.response_info.status_code == 403
    assert user_client.files.get_file_by_id(f.id).name == "read only.txt"


def test_copy_file_and_folder(user_client, folder: str) -> None:
    f = upload(user_client, folder, "original.txt", b"copy me")
    sub = user_client.folders.create_folder("Nested", CreateFolderParent(id=folder))
    upload(user_client, sub.id, "deep.txt", b"deep")
    copied = user_client.files.copy_file(f.id, CopyFileParent(id=folder), name="copy.txt")
    assert copied.id != f.id and copied.sha_1 == f.sha_1 and copied.name == "copy.txt"
    assert user_client.downloads.download_file(copied.id).read() == b"copy me"
    with pytest.raises(BoxAPIError) as err:
        user_client.files.copy_file(f.id, CopyFileParent(id=folder))  # same name in the same folder
    assert err.value.response_info.status_code == 409
    tree = user_client.folders.copy_folder(sub.id, CopyFolderParent(id="0"), name=f"Nested copy {folder}")
    names = {e.name for e in user_client.folders.get_folder_items(tree.id).entries}
    assert names == {"deep.txt"}
    with pytest.raises(BoxAPIError) as err:
        user_client.folders.copy_folder(folder, CopyFolderParent(id=sub.id))  # into its own subfolder
    assert err.value.response_info.status_code == 400


def test_folder_if_match(sandbox: SandboxServer, folder: str) -> None:
    token = sandbox.developer_token(sandbox.users[0]["id"])
    headers = {"Authorization": f"Bearer {token}"}
    etag = requests.get(f"{sandbox.url}/2.0/folders/{folder}", headers=headers, timeout=10).json()["etag"]
    stale = requests.put(
        f"{sandbox.url}/2.0/folders/{folder}",
        json={"description": "x"},
        timeout=10,
        headers={**headers, "If-Match": str(int(etag) + 5)},
    )
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    fresh = requests.put(
        f"{sandbox.url}/2.0/folders/{folder}",
        json={"description": "x"},
        timeout=10,
        headers={**headers, "If-Match": etag},
    )
    assert fresh.status_code == 200 and fresh.json()["etag"] != etag


def test_delete_a_previous_version(user_client, folder: str) -> None:
    f = upload(user_client, folder, "versions.txt", b"v1")
    user_client.uploads.upload_file_version(f.id, UploadFileVersionAttributes(name=f.name), io.BytesIO(b"v2"))
    user_client.file_versions.delete_file_version_by_id(f.id, f.file_version.id)
    listed = user_client.file_versions.get_file_versions(f.id).entries
    assert [v.id for v in listed] == [f.file_version.id] and listed[0].trashed_at is not None


def test_a_trashed_version_is_restored_before_it_can_be_promoted_and_promote_brings_its_name_back(
    user_client, folder: str
) -> None:
    from box_sdk_gen.internal.null_value import NullValue

    f = upload(user_client, folder, "plan.txt", b"v1 plan")
    user_client.uploads.upload_file_version(
        f.id, UploadFileVersionAttributes(name="plan-final.txt"), io.BytesIO(b"v2 final")
    )
    user_client.file_versions.delete_file_version_by_id(f.id, f.file_version.id)
    with pytest.raises(BoxAPIError) as trashed:
        user_client.file_versions.promote_file_version(
            f.id, id=f.file_version.id, type=PromoteFileVersionType.FILE_VERSION
        )
    assert trashed.value.response_info.status_code == 400

    back = user_client.file_versions.update_file_version_by_id(
        f.id, f.file_version.id, trashed_at=NullValue()
    )
    assert back.id == f.file_version.id and back.trashed_at is None
    with pytest.raises(BoxAPIError) as bad:
        user_client.file_versions.update_file_version_by_id(f.id, f.file_version.id, trashed_at="2020-01-01")
    assert bad.value.response_info.status_code == 400

    promoted = user_client.file_versions.promote_file_version(
        f.id, id=f.file_version.id, type=PromoteFileVersionType.FILE_VERSION
    )
    assert promoted.sha_1 == hashlib.sha1(b"v1 plan").hexdigest()
    now = user_client.files.get_file_by_id(f.id)
    assert now.name == "plan.txt" and now.file_version.id == promoted.id  # Box brings the name back too
    assert user_client.downloads.download_file(f.id).read() == b"v1 plan"
    with pytest.raises(BoxAPIError) as gone:
        user_client.file_versions.update_file_version_by_id(f.id, "999999999", trashed_at=NullValue())
    assert gone.value.response_info.status_code == 404


def test_shared_items_finds_the_item_behind_a_link_and_checks_its_password(user_client, folder: str) -> None:
    f = upload(user_client, folder, "shared.txt", b"shared content")
    linked = user_client.shared_links_files.add_share_link_to_file(
        f.id,
        "shared_link",
        shared_link=AddShareLinkToFileSharedLink(
            access=AddShareLinkToFileSharedLinkAccessField.OPEN, password="correct horse"
        ),
    )
    link = linked.shared_link
    assert link.is_password_enabled is True
    assert "_password_sha256" not in link.to_dict()  # the sandbox's own bookkeeping never shows
    found = user_client.shared_links_files.find_file_for_shared_link(
        f"shared_link={link.url}&shared_link_password=correct horse"
    )
    assert found.id == f.id
    with pytest.raises(BoxAPIError) as wrong:
        user_client.shared_links_files.find_file_for_shared_link(
            f"shared_link={link.url}&shared_link_password=wrong horse"
        )
    assert wrong.value.response_info.status_code == 403
    with pytest.raises(BoxAPIError) as unknown:
        user_client.shared_links_files.find_file_for_shared_link("shared_link=https://example.invalid/s/nope")
    assert unknown.value.response_info.status_code == 404
    with pytest.raises(BoxAPIError) as short:
        user_client.shared_links_files.add_share_link_to_file(
            f.id, "shared_link", shared_link=AddShareLinkToFileSharedLink(password="short")
        )
    assert short.value.response_info.status_code == 400


def test_a_trashed_item_is_still_answered_with_its_status(user_client, folder: str) -> None:
    from box_sdk_gen import CreateFolderParent

    inner = user_client.folders.create_folder("inner", CreateFolderParent(id=folder))
    f = upload(user_client, inner.id, "trashed.txt", b"soon in the trash")
    user_client.files.delete_file_by_id(f.id)
    got = user_client.files.get_file_by_id(f.id, fields=["item_status", "trashed_at", "name"])
    assert got.item_status.value == "trashed" and got.trashed_at is not None and got.name == "trashed.txt"
    with pytest.raises(BoxAPIError) as no_content:
        user_client.downloads.download_file(f.id)
    assert no_content.value.response_info.status_code == 404
    g = upload(user_client, inner.id, "inside.txt", b"in a folder that goes to the trash")
    user_client.folders.delete_folder_by_id(inner.id, recursive=True)
    assert (
        user_client.folders.get_folder_by_id(inner.id, fields=["item_status"]).item_status.value == "trashed"
    )
    assert user_client.files.get_file_by_id(g.id, fields=["item_status"]).item_status.value == "trashed"
