"""The restore dialog's folder picker: the destination user's Box folders, page and API, for whom may
restore into the task; bad input and Box's refusals are one sentence, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from recovery.fixtures import back_up, find


@pytest.mark.django_db(transaction=True)
def test_the_picker_lists_the_destination_users_folders_and_a_restore_goes_there(
    client: Any, admin: Any, outsider: Any, sandbox: Any
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from portal.fixtures import PASSWORD, login

    backed = back_up(client, admin, sandbox)
    task, uid, sdk = backed.task.pk, backed.user["box_user_id"], backed.client
    proj, sub = find(sdk, "Proj"), find(sdk, "Proj/Sub")
    api = f"/api/v1/tasks/{task}/users/{uid}/box-folders/"

    root = client.get(api)
    assert root.status_code == 200, root.content
    body = root.json()
    assert body["id"] == "0" and body["name"] == "All Files" and body["path"] == []
    assert {"id": str(proj.id), "name": "Proj"} in body["results"]
    inside = client.get(api, {"parent": str(proj.id)}).json()
    assert inside["name"] == "Proj" and inside["path"] == [{"id": "0", "name": "All Files"}]
    assert inside["results"] == [{"id": str(sub.id), "name": "Sub"}]  # folders only, not a.txt or b.bin
    assert inside["next_offset"] is None

    # the other user's Box is theirs: Proj was made in the first user's Box only
    other = client.get(f"/api/v1/tasks/{task}/users/{backed.other['box_user_id']}/box-folders/").json()
    assert "Proj" not in {f["name"] for f in other["results"]}
    missing = client.get(api, {"parent": "98765432109"})
    assert missing.status_code == 400 and "not in this user's Box" in missing.json()["detail"]
    for bad in ({"parent": "abc"}, {"parent": "1" * 21}, {"offset": "-1"}, {"offset": "x"}):
        refused = client.get(api, bad)
        assert refused.status_code == 400 and refused.json()["detail"], bad
    assert client.get(f"/api/v1/tasks/{task}/users/nobody/box-folders/").status_code == 404

    # the dialog's fragment: the same folders as radio buttons of the form, and errors as a sentence
    fragment = client.get(f"/recovery/tasks/{task}/box-folders/", {"box_user_id": uid, "parent": proj.id})
    html = fragment.content.decode()
    assert fragment.status_code == 200 and f'name="folder_pick" value="{sub.id}"' in html
    assert 'aria-label="Open Sub"' in html and "a.txt" not in html
    broken = client.get(f"/recovery/tasks/{task}/box-folders/", {"box_user_id": uid, "parent": "x"})
    assert broken.status_code == 200 and b'role="alert"' in broken.content

    # the dialog's choice wins over the typed id, and the restore lands in the chosen folder
    started = client.post(
        f"/recovery/snapshots/{backed.snapshot}/act/",
        {
            "action": "restore",
            "confirm": "1",
            "paths": [f"{backed.proj}/a.txt"],
            "box_user_id": uid,
            "folder_pick": str(sub.id),
            "folder_id": "0",
            "mode": "non_destructive",
        },
    )
    assert started.status_code == 302, started.content
    job = Job.objects.filter(kind="restore").latest("pk")
    assert job.params["destination"]["folder_id"] == str(sub.id)
    assert jobs.run(job.pk) == "succeeded"
    restored = [
        e.name for e in sdk.folders.get_folder_items(str(sub.id)).entries if e.name.startswith("Restored")
    ]
    assert len(restored) == 1

    # who may see it: restore rights and the Box service, in this account only
    viewer = add_member(
        for_user(admin.user), email="viewer@a.example", password=PASSWORD, operations=["preview_data"],
        services=["box"],
    )  # fmt: skip
    no_box = add_member(
        for_user(admin.user), email="nobox@a.example", password=PASSWORD, operations=["restore"], services=[]
    )
    for member, status in ((viewer, 403), (no_box, 404), (outsider, 404)):
        login(client, member.user)
        assert client.get(api).status_code == status, member.user.email
        page = client.get(f"/recovery/tasks/{task}/box-folders/", {"box_user_id": uid})
        assert page.status_code == status, member.user.email
    client.logout()
    assert client.get(api).status_code in (401, 403)
