"""Recovery's snapshot lists come from the catalog (CatalogSnapshot), never from the repository (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


@pytest.mark.django_db
def test_snapshot_list_reads_the_catalog_without_opening_the_repository(
    client: Any, admin: Any, make_task: Any
) -> None:
    from boxvault.backups.models import CatalogSnapshot, TaskUser
    from portal.fixtures import login

    # the task's repository does not exist at all: a listing that opened it would find nothing
    task = make_task(users=2, repository="/nonexistent/boxvault-repo")
    TaskUser.objects.filter(task=task).update(first_backup_at=datetime(2030, 1, 1, tzinfo=UTC))
    start = datetime(2030, 1, 1, 1, tzinfo=UTC)
    for day in range(5):
        CatalogSnapshot.objects.create(
            task=task,
            scope="e1",
            box_user_id="100",
            snapshot_id=f"{day:02d}".ljust(64, "a"),
            time=start + timedelta(days=day),
            files=10 + day,
            bytes=1000 * day,
            forgotten_at=start + timedelta(days=30) if day == 0 else None,  # removed by retention
        )
    CatalogSnapshot.objects.create(
        task=task, scope="e1", box_user_id="101", snapshot_id="ff".ljust(64, "b"), time=start
    )
    login(client, admin.user)
    url = f"/api/v1/tasks/{task.pk}/users/100/snapshots/"
    body = client.get(url, {"from": "2030-01-01", "to": "2030-01-10"}).json()
    assert [s["files"] for s in body["results"]] == [14, 13, 12, 11]  # newest first, forgotten left out
    first = body["results"][0]
    assert first == {
        "id": f"{task.pk}:{'04'.ljust(64, 'a')}",
        "snapshot_id": "04".ljust(64, "a"),
        "short_id": "04aaaaaa",
        "time": (start + timedelta(days=4)).isoformat(),
        "box_user_id": "100",
        "root": "/user0@box.example",
        "files": 14,
        "bytes": 4000,
    }
    narrow = client.get(url, {"from": "2030-01-03", "to": "2030-01-04"}).json()
    assert [s["files"] for s in narrow["results"]] == [13, 12]
    other = client.get(
        f"/api/v1/tasks/{task.pk}/users/101/snapshots/", {"from": "2030-01-01", "to": "2030-01-02"}
    ).json()
    assert other["count"] == 1 and other["results"][0]["files"] is None


@pytest.mark.django_db
def test_the_recovery_page_lists_snapshots_50_a_page(client: Any, admin: Any, make_task: Any) -> None:
    from boxvault.backups.models import CatalogSnapshot, TaskUser
    from portal.fixtures import login

    task = make_task(users=1, repository="/nonexistent/boxvault-repo")
    start = datetime(2030, 1, 1, 1, tzinfo=UTC)
    TaskUser.objects.filter(task=task).update(first_backup_at=start)
    CatalogSnapshot.objects.bulk_create(
        CatalogSnapshot(
            task=task,
            scope="e1",
            box_user_id="100",
            snapshot_id=f"{n:04x}".ljust(64, "c"),
            time=start + timedelta(hours=n),
        )
        for n in range(120)
    )
    login(client, admin.user)
    url = f"/recovery/tasks/{task.pk}/users/100/"
    dates = {"from": "2030-01-01", "to": "2030-01-10"}
    first = client.get(url, dates).content.decode()
    assert first.count("data-snapshot=") == 50 and "Page 1 of 3 (120 snapshots)" in first
    assert f'data-snapshot="{task.pk}:{0x77:04x}' in first  # the newest first
    last = client.get(url, {**dates, "page": "3"}).content.decode()
    assert last.count("data-snapshot=") == 20 and f'data-snapshot="{task.pk}:{0:04x}' in last
    assert client.get(url, {**dates, "page": "x"}).status_code == 200  # a bad page number is the first page
