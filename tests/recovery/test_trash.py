"""The user's Box trash: kept by the next backup under `.box-trash` (as the previous backup held each item),
shown in Recovery as "in the trash since …", and restored: by Box's own restore-from-trash while Box still
has the item, by an upload to where it was trashed from once Box has purged it. Checked through the SDK."""

from __future__ import annotations

from typing import Any

import pytest

from recovery.fixtures import CONTENT, back_up, find, folder_items, restore_job, sha1, upload


def _backup_again(client: Any, backed: Any) -> str:
    """Backup Now for the user, run here; the new snapshot's reference."""
    from boxvault.jobs import services as jobs

    uid = backed.user["box_user_id"]
    started = client.post(
        f"/api/v1/tasks/{backed.task.pk}/users/actions/",
        {"action": "backup_now", "box_user_ids": [uid]},
        content_type="application/json",
    ).json()
    assert jobs.run(started["jobs"][0]["id"]) == "succeeded"
    snaps = client.get(f"/api/v1/tasks/{backed.task.pk}/users/{uid}/snapshots/").json()
    return str(snaps["results"][0]["id"])  # newest first


def _assert_proj(sdk: Any, proj_id: str) -> None:
    for rel, data in CONTENT.items():
        item = find(sdk, rel, proj_id)
        assert item is not None, rel
        assert sdk.files.get_file_by_id(str(item.id), fields=["sha1"]).sha_1 == sha1(data), rel


@pytest.mark.django_db(transaction=True)
def test_a_trashed_folder_is_kept_shown_and_restored_from_box_trash_then_from_the_backup(
    client: Any, admin: Any, sandbox: Any
) -> None:
    from boxvault.backups.models import CatalogVersion

    backed = back_up(client, admin, sandbox)
    sdk, login = backed.client, backed.user["login"]
    proj_id = str(find(sdk, "Proj").id)
    sdk.folders.delete_folder_by_id(proj_id, recursive=True)  # into Box's trash
    # never backed up before it went to the trash: Box serves no trashed content, so it cannot be kept
    sdk.files.delete_file_by_id(upload(sdk, "0", "brief.txt", b"too late"))

    second = _backup_again(client, backed)
    trash = f"/{login}/.box-trash"

    # Recovery shows the trash, each item with the time it was trashed
    page = client.get(f"/recovery/snapshots/{second}/", {"path": trash}).content.decode()
    trashed_at = sdk.trashed_folders.get_trashed_folder_by_id(proj_id).trashed_at
    assert "Proj" in page and f"in the trash since {trashed_at:%Y-%m-%d %H:%M}" in page
    assert "brief.txt" not in page
    # the catalog holds the trashed rows (search finds them), typed so they do not count as live files
    kinds = set(
        CatalogVersion.objects.filter(
            task=backed.task, box_user_id=backed.user["box_user_id"], path__startswith=".box-trash/"
        ).values_list("path", "item_type")
    )
    assert (".box-trash/Proj", "trashed_folder") in kinds and (
        ".box-trash/Proj/a.txt",
        "trashed_file",
    ) in kinds

    # the restore dialog says where trashed items go; a live selection gets no such note
    act = f"/recovery/snapshots/{second}/act/"
    dialog = client.get(act, {"action": "restore", "paths": [f"{trash}/Proj"]}).content.decode()
    assert 'id="trash-hint"' in dialog and "restore from the trash" in dialog
    assert (
        'id="trash-hint"'
        not in client.get(act, {"action": "restore", "paths": [f"/{login}"]}).content.decode()
    )

    # restoring the whole user brings back what was live, not the trash
    whole = restore_job(client, {"snapshot": second, "paths": [f"/{login}"], "mode": "non_destructive"})
    restored = next(n for n in folder_items(sdk, "0") if n.startswith("Restored "))
    assert ".box-trash" not in folder_items(sdk, whole["result"]["folder_id"]) and "Proj" not in folder_items(
        sdk, whole["result"]["folder_id"]
    ), restored

    # 1. in place while Box still has it: Box's restore-from-trash, the same folder (id, files) comes back
    done = restore_job(client, {"snapshot": second, "paths": [f"{trash}/Proj"], "mode": "bypass"})
    assert find(sdk, "Proj").id == proj_id
    assert done["result"]["items"] == 1 and "untrashed: Proj" in done["log"]
    _assert_proj(sdk, proj_id)

    # 2. trashed and purged from Box's trash: the stored copy is uploaded where it was trashed from
    sdk.folders.delete_folder_by_id(proj_id, recursive=True)
    sdk.trashed_folders.delete_trashed_folder_by_id(proj_id)
    done = restore_job(client, {"snapshot": second, "paths": [f"{trash}/Proj"], "mode": "bypass"})
    again = find(sdk, "Proj")
    assert again is not None and again.id != proj_id
    _assert_proj(sdk, str(again.id))
    assert done["result"]["failed"] == 0 and done["result"]["items"] == len(CONTENT) + 3  # + Proj, Sub, Deep
    assert "created: Proj/Sub/Deep/d.md" in done["log"]

    # 3. one file from inside the trashed folder: back into the folder it lived in
    sdk.files.delete_file_by_id(str(find(sdk, "Proj/Sub/c.txt").id))
    done = restore_job(client, {"snapshot": second, "paths": [f"{trash}/Proj/Sub/c.txt"], "mode": "bypass"})
    assert done["result"]["items"] == 1 and "created: Proj/Sub/c.txt" in done["log"], done["log"]
    back = find(sdk, "Proj/Sub/c.txt")
    assert back is not None and sdk.files.get_file_by_id(str(back.id), fields=["sha1"]).sha_1 == sha1(
        CONTENT["Sub/c.txt"]
    )

    # 4. a third backup keeps nothing Box purged: the trash holds only what is in it now
    third = _backup_again(client, backed)
    listing = client.get(f"/recovery/snapshots/{third}/", {"path": f"/{login}"}).content.decode()
    assert ".box-trash" not in listing
