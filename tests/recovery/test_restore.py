"""Restore into the sandbox each way, checked afterwards through the official SDK."""

from __future__ import annotations

import io
from typing import Any

import pytest

from recovery.fixtures import (
    CONTENT,
    CREATED,
    MODIFIED,
    back_up,
    find,
    folder_items,
    restore_job,
    run_job,
    sha1,
)

FIELDS = ["name", "sha1", "content_created_at", "content_modified_at", "size"]


def _assert_as_backed_up(sdk: Any, proj_id: str) -> None:
    """Every file of CONTENT below folder `proj_id`: name, folders, sha1 and content timestamps."""
    for rel, data in CONTENT.items():
        item = find(sdk, rel, proj_id)
        assert item is not None, rel
        full = sdk.files.get_file_by_id(str(item.id), fields=FIELDS)
        assert full.sha_1 == sha1(data), rel
        assert full.content_modified_at == MODIFIED, (rel, full.content_modified_at)
        assert full.content_created_at == CREATED, (rel, full.content_created_at)


def _overwrite(sdk: Any, file_id: str, data: bytes) -> None:
    from box_sdk_gen.managers.uploads import UploadFileVersionAttributes

    sdk.uploads.upload_file_version(file_id, UploadFileVersionAttributes("b.bin"), io.BytesIO(data))


@pytest.mark.django_db(transaction=True)
def test_restore_non_destructive_bypass_replace_and_to_another_user(
    client: Any, admin: Any, sandbox: Any, mailoutbox: Any
) -> None:

    backed = back_up(client, admin, sandbox)
    sdk = backed.client
    proj = find(sdk, "Proj")
    a, b, c = (find(sdk, p, str(proj.id)) for p in ("a.txt", "b.bin", "Sub/c.txt"))
    # Box changes after the backup: a delete, an overwrite, a rename
    sdk.files.delete_file_by_id(str(a.id))
    new_b = b"overwritten after the backup"
    _overwrite(sdk, str(b.id), new_b)
    sdk.files.update_file_by_id(str(c.id), name="c-renamed.txt")

    # 1. non-destructive: a new "Restored ..." folder holds Proj; nothing live touched
    done = restore_job(
        client,
        {"snapshot": backed.snapshot, "paths": [backed.proj], "mode": "non_destructive", "destination": {}},
    )
    restored = [name for name in folder_items(sdk, "0") if name.startswith("Restored ")]
    assert len(restored) == 1 and done["result"]["folder_id"] == str(folder_items(sdk, "0")[restored[0]].id)
    _assert_as_backed_up(sdk, str(find(sdk, f"{restored[0]}/Proj").id))
    assert find(sdk, "Proj/a.txt") is None  # still deleted
    assert sdk.files.get_file_by_id(str(b.id), fields=FIELDS).sha_1 == sha1(new_b)  # still overwritten
    assert find(sdk, "Proj/Sub/c.txt") is None and find(sdk, "Proj/Sub/c-renamed.txt") is not None
    assert done["result"]["failed"] == 0 and done["result"]["items"] == len(CONTENT) + 3  # + Proj, Sub, Deep
    assert done["job"].items_done == done["job"].items_total == done["result"]["items"]
    summary = [m for m in mailoutbox if m.subject.startswith("[boxvault] Restore succeeded")]
    assert len(summary) == 1 and summary[0].to == [admin.user.email]
    assert f"Items: {done['result']['items']}" in summary[0].body and "Failures: 0" in summary[0].body
    assert done["job"].bytes_done == done["job"].bytes_total == sum(len(c) for c in CONTENT.values())

    # 2. in place, Bypass: the missing come back, the existing stay as they are
    done = restore_job(client, {"snapshot": backed.snapshot, "paths": [backed.proj], "mode": "bypass"})
    back_a = find(sdk, "Proj/a.txt")
    assert back_a is not None and str(back_a.id) != str(a.id)
    full_a = sdk.files.get_file_by_id(str(back_a.id), fields=FIELDS)
    assert full_a.sha_1 == sha1(CONTENT["a.txt"]) and full_a.content_modified_at == MODIFIED
    assert sdk.files.get_file_by_id(str(b.id), fields=FIELDS).sha_1 == sha1(new_b)  # left alone
    assert find(sdk, "Proj/Sub/c.txt") is not None and find(sdk, "Proj/Sub/c-renamed.txt") is not None
    assert any(line.startswith("skipped: Proj/b.bin") for line in done["log"])

    # 3. in place, Replace: b.bin gets a new version with the backed-up content (same file id)
    done = restore_job(
        client, {"snapshot": backed.snapshot, "paths": [f"{backed.proj}/b.bin"], "mode": "replace"}
    )
    full_b = sdk.files.get_file_by_id(str(b.id), fields=[*FIELDS, "file_version"])
    assert full_b.sha_1 == sha1(CONTENT["b.bin"]) and full_b.content_modified_at == MODIFIED
    versions = sdk.file_versions.get_file_versions(str(b.id)).entries or []
    assert len(versions) >= 2  # the overwritten content is kept in Box's history
    assert any(line.startswith("new_version: Proj/b.bin") for line in done["log"])
    assert str(find(sdk, "Proj/a.txt").id) == str(back_a.id)  # untouched by a restore of b.bin
    # Replace again: identical content is left as it is (no needless version)
    done = restore_job(
        client, {"snapshot": backed.snapshot, "paths": [f"{backed.proj}/b.bin"], "mode": "replace"}
    )
    assert any(line.startswith("unchanged: Proj/b.bin") for line in done["log"])

    # 4. to another user of the task, in a folder of theirs
    other = backed.other_client
    from box_sdk_gen.managers.folders import CreateFolderParent

    target = other.folders.create_folder("Inbox", CreateFolderParent(id="0"))
    done = restore_job(
        client,
        {
            "snapshot": backed.snapshot,
            "paths": [backed.proj],
            "mode": "non_destructive",
            "destination": {"box_user_id": backed.other["box_user_id"], "folder_id": str(target.id)},
        },
    )
    inside = [name for name in folder_items(other, str(target.id)) if name.startswith("Restored ")]
    assert len(inside) == 1
    _assert_as_backed_up(other, str(find(other, f"Inbox/{inside[0]}/Proj").id))
    assert find(sdk, "Inbox") is None  # nothing went to the source user


@pytest.mark.django_db(transaction=True)
def test_a_departed_users_files_restored_into_another_users_box(
    client: Any, admin: Any, new_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user deleted in Box (with their content, through the Box API) becomes Archived at the next
    discovery, keeps their backups, and their files go into a colleague's Box; restoring into the departed
    user is refused with a sentence."""
    import recovery.fixtures as fixtures
    from boxvault.backups.models import TaskUser
    from boxvault.backups.services import discover_users

    box = new_sandbox(users=3, files_per_user=2, seed=19)  # its own: a user is deleted for good
    monkeypatch.setattr(fixtures, "_used", [])
    backed = back_up(client, admin, box)
    leaver, colleague = backed.user["box_user_id"], backed.other["box_user_id"]

    box.ccg_client().users.delete_user_by_id(leaver, force=True)
    assert discover_users(backed.task)["archived"] == 1
    row = TaskUser.objects.get(task=backed.task, box_user_id=leaver)
    assert row.status == TaskUser.Status.ARCHIVED and row.archived_at is not None
    users = client.get(f"/api/v1/tasks/{backed.task.pk}/users/", {"status": "archived"}).json()["results"]
    assert [u["box_user_id"] for u in users] == [leaver]
    snaps = client.get(f"/api/v1/tasks/{backed.task.pk}/users/{leaver}/snapshots/").json()
    assert [s["id"] for s in snaps["results"]] == [backed.snapshot]  # the backups stay

    refused = client.post(
        "/api/v1/restores/",
        {
            "snapshot": backed.snapshot,
            "paths": [backed.proj],
            "mode": "non_destructive",
            "destination": {"box_user_id": leaver},
        },
        content_type="application/json",
    )
    assert refused.status_code == 400 and "deleted in Box" in refused.content.decode()

    done = restore_job(
        client,
        {
            "snapshot": backed.snapshot,
            "paths": [backed.proj],
            "mode": "non_destructive",
            "destination": {"box_user_id": colleague, "folder_id": "0"},
        },
    )
    theirs = backed.other_client
    restored = [name for name in folder_items(theirs, "0") if name.startswith("Restored ")]
    assert len(restored) == 1 and done["result"]["failed"] == 0
    _assert_as_backed_up(theirs, str(find(theirs, f"{restored[0]}/Proj").id))


@pytest.mark.django_db(transaction=True)
def test_a_destination_user_who_may_not_receive_gets_a_clear_failure(
    client: Any, admin: Any, sandbox: Any
) -> None:
    """An admin set the colleague's Box to 'cannot upload': the restore into their Box fails with Box's
    answer on the card and in the log, and their Box is left as it was."""
    backed = back_up(client, admin, sandbox)
    colleague = backed.other["box_user_id"]
    before = set(folder_items(backed.other_client, "0"))
    box_admin = sandbox.ccg_client()
    box_admin.users.update_user_by_id(colleague, status="cannot_delete_edit_upload")
    try:
        done = run_job(
            client,
            "/api/v1/restores/",
            {
                "snapshot": backed.snapshot,
                "paths": [backed.proj],
                "mode": "non_destructive",
                "destination": {"box_user_id": colleague},
            },
            expect="failed",
        )
        assert "Box refused the destination folder: Box answered 403" in done["job"].message
        assert any("403" in line for line in done["log"])
        assert set(folder_items(backed.other_client, "0")) == before
    finally:
        box_admin.users.update_user_by_id(colleague, status="active")
