"""The erasure pages: from the snapshot tree or item search, a reason and two confirmations start the job;
the detail page offers the receipt. Members without the GDPR operation see no button and get 403;
outsiders 404."""

from __future__ import annotations

from typing import Any

import pytest

from recovery.fixtures import back_up


@pytest.mark.django_db(transaction=True)
def test_erase_from_the_tree_with_two_confirmations(
    client: Any, admin: Any, outsider: Any, sandbox: Any
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.jobs import services as jobs
    from boxvault.recovery.models import Erasure
    from portal.fixtures import PASSWORD, login

    backed = back_up(client, admin, sandbox)
    ref, target = backed.snapshot, f"{backed.proj}/Sub"
    tree = client.get(f"/recovery/snapshots/{ref}/?path={backed.proj}").content.decode()
    assert 'id="erase-selected"' in tree and f"/recovery/snapshots/{ref}/erase/" in tree
    url = f"/recovery/snapshots/{ref}/erase/"

    page = client.get(url, {"paths": [target]})
    assert (
        page.status_code == 200 and target in page.content.decode() and b'id="erase-continue"' in page.content
    )
    assert client.get(url).status_code == 400  # nothing selected
    assert client.get(url, {"paths": [f"{backed.proj}/nope"]}).status_code == 404
    # first step: a reason and "I understand" are required
    assert b"Give the reason" in client.post(url, {"paths": [target], "step": "1"}).content
    assert b"cannot be undone" in client.post(url, {"paths": [target], "step": "1", "reason": "x"}).content
    second = client.post(url, {"paths": [target], "step": "1", "reason": "ticket 9", "understood": "1"})
    assert second.status_code == 200 and b'id="erase-confirm"' in second.content
    assert not Erasure.objects.exists()  # one confirmation erases nothing
    done = client.post(url, {"paths": [target], "step": "2", "reason": "ticket 9", "understood": "1"})
    assert done.status_code == 302
    row = Erasure.objects.get()
    assert done["Location"] == f"/recovery/erasures/{row.pk}/" and row.paths == [target]
    assert jobs.run(row.job_id) == "succeeded"
    detail = client.get(done["Location"]).content.decode()
    assert "Completed" in detail and 'id="receipt-pdf"' in detail and "ticket 9" in detail
    assert client.get("/recovery/erasures/").status_code == 200
    assert client.get(f"/recovery/snapshots/{ref}/").status_code == 404  # rewritten: the old snapshot is gone
    latest = client.get(
        f"/api/v1/tasks/{backed.task.pk}/users/{backed.user['box_user_id']}/snapshots/"
    ).json()
    new_ref = latest["results"][0]["id"]
    names = [e["name"] for e in client.get(f"/api/v1/snapshots/{new_ref}/tree/",
                                           {"path": backed.proj}).json()["results"]]  # fmt: skip
    assert "Sub" not in names and "a.txt" in names

    # from item search: the selection goes to the same page, checked against every snapshot
    items = [f"{new_ref}|Proj/a.txt", f"{new_ref}|Proj/b.bin"]
    found = client.get("/recovery/search/select/", {"action": "erase", "item": items})
    assert found.status_code == 302 and f"/recovery/snapshots/{new_ref}/erase/" in found["Location"]
    page = client.get(found["Location"]).content.decode()
    assert f"{backed.proj}/a.txt" in page and f"{backed.proj}/b.bin" in page and 'name="across"' in page

    # a member without the GDPR operation: no button, 403
    viewer = add_member(
        for_user(admin.user),
        email="val@a.example",
        password=PASSWORD,
        operations=["preview_data"],
        services=["box"],
    )
    login(client, viewer.user)
    assert b"erase-selected" not in client.get(f"/recovery/snapshots/{new_ref}/?path={backed.proj}").content
    assert client.get(url, {"paths": [target]}).status_code == 403
    assert (
        client.post(url, {"paths": [target], "step": "2", "reason": "r", "understood": "1"}).status_code
        == 403
    )
    assert client.get(f"/recovery/erasures/{row.pk}/").status_code == 403
    # an outsider: 404
    login(client, outsider.user)
    assert client.get(f"/recovery/snapshots/{new_ref}/erase/", {"paths": [target]}).status_code == 404
    assert client.get(f"/recovery/erasures/{row.pk}/").status_code == 404

    login(client, admin.user)
    # finally the whole user (API, as the administrator): every snapshot forgotten, catalog emptied, paused
    from boxvault.backups.models import CatalogSnapshot, CatalogVersion, TaskUser

    whole = client.post(
        "/api/v1/erasures/",
        {"task": backed.task.pk, "box_user_id": backed.user["box_user_id"],
         "paths": [f"/{backed.user['login']}"], "reason": "account closed"},
        content_type="application/json",
    ).json()  # fmt: skip
    assert whole["whole_user"] is True
    assert jobs.run(whole["job"]["id"]) == "succeeded"
    receipt = client.get(f"/api/v1/erasures/{whole['id']}/receipt/").json()
    assert receipt["snapshots_rewritten"] and all(r["new"] is None for r in receipt["snapshots_rewritten"])
    uid = backed.user["box_user_id"]
    assert client.get(f"/api/v1/tasks/{backed.task.pk}/users/{uid}/snapshots/").json()["count"] == 0
    assert not CatalogVersion.objects.filter(task=backed.task, box_user_id=uid).exists()
    assert not CatalogSnapshot.objects.filter(task=backed.task, box_user_id=uid).exists()
    assert TaskUser.objects.get(task=backed.task, box_user_id=uid).status == "paused"
