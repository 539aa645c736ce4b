"""Immutable backups in Recovery: the snapshot list (page and API) says until when object lock protects a
snapshot, only to those who may see the snapshot; nothing when the location has no object lock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from recovery.fixtures import back_up
from recovery.test_permissions import _member


@pytest.mark.django_db(transaction=True)
def test_snapshot_list_says_until_when_protected(
    client: Any, admin: Any, outsider: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boxvault.backups.models import CatalogSnapshot, Task
    from portal.fixtures import login

    backed = back_up(client, admin, sandbox)
    task, user = backed.task.pk, backed.user["box_user_id"]
    api = f"/api/v1/tasks/{task}/users/{user}/snapshots/"
    page = f"/recovery/tasks/{task}/users/{user}/"

    # a local location: no object lock, whatever the environment says
    monkeypatch.setenv("BOXVAULT_S3_OBJECT_LOCK_MODE", "compliance")
    monkeypatch.setenv("BOXVAULT_S3_OBJECT_LOCK_DAYS", "30")
    assert all(s["protected_until"] is None for s in client.get(api).json()["results"])
    assert b'id="object-lock"' not in client.get(f"/tasks/{task}/").content

    # the listing reads the catalog and the operator's setting only: no request reaches the bucket
    Task.objects.filter(pk=task).update(repository="s3:http://127.0.0.1:9/locked-bucket/repo")
    snap = CatalogSnapshot.objects.filter(task_id=task, box_user_id=user).order_by("-time").first()
    assert snap is not None
    results = client.get(api).json()["results"]
    expected = (snap.time + timedelta(days=30)).isoformat()
    assert results[0]["protected_until"] == expected
    assert f'data-protected-until="{expected}"'.encode() in client.get(page).content
    settings_page = client.get(f"/tasks/{task}/").content.decode()
    assert 'id="object-lock"' in settings_page and "compliance mode" in settings_page
    assert "for 30 days after it is written" in settings_page

    # a member who may preview sees it too; one without the operation and an outsider get nothing
    login(client, _member(admin, "lena@a.example", ["preview_data"]).user)
    assert client.get(api).json()["results"][0]["protected_until"] == expected
    login(client, _member(admin, "nico@a.example", ["restore"]).user)
    assert client.get(api).status_code == 403
    login(client, outsider.user)
    assert client.get(api).status_code == 404

    # once the lock has expired the field is empty again
    login(client, admin.user)
    CatalogSnapshot.objects.filter(task_id=task).update(time=snap.time - timedelta(days=31))
    assert all(s["protected_until"] is None for s in client.get(api).json()["results"])
    monkeypatch.setenv("BOXVAULT_S3_OBJECT_LOCK_DAYS", "0")  # a bad setting: no date rather than a 500
    assert client.get(api).status_code == 200
