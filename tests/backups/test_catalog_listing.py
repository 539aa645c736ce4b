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
        "protected_until": None,  # no object lock on this location
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


def _seed(task: Any, count: int, start: datetime) -> None:
    """`count` snapshots an hour apart; ids unique across tasks (snapshot ids are unique in the catalog)."""
    from boxvault.backups.models import CatalogSnapshot

    CatalogSnapshot.objects.bulk_create(
        (
            CatalogSnapshot(
                task=task,
                scope="e1",
                box_user_id="100",
                snapshot_id=f"{task.pk:04x}{n:05x}".ljust(64, "d"),
                time=start + timedelta(hours=n),
            )
            for n in range(count)
        ),
        batch_size=1000,
    )


def _listing_sql(client: Any, url: str, params: dict[str, str]) -> tuple[int, list[str]]:
    """The number of queries a request runs, and those that read catalog snapshots."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params).status_code == 200
    reads = [q["sql"] for q in ctx.captured_queries if "catalogsnapshot" in q["sql"].lower()]
    return len(ctx.captured_queries), reads


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["page", "api"])
def test_snapshot_lists_read_one_page_however_many_snapshots(
    client: Any, admin: Any, make_task: Any, kind: str
) -> None:
    """Issue 10: a list costs a COUNT and one LIMIT query, the same at 100 snapshots as at 2,000."""
    from boxvault.backups.models import TaskUser
    from portal.fixtures import login

    login(client, admin.user)
    start = datetime(2030, 1, 1, 1, tzinfo=UTC)
    dates = {"from": "2030-01-01", "to": "2030-12-31"}
    seen = []
    for count in (100, 2000):
        task = make_task(users=1, repository="/nonexistent/boxvault-repo")
        TaskUser.objects.filter(task=task).update(first_backup_at=start)
        _seed(task, count, start)
        url = (
            f"/recovery/tasks/{task.pk}/users/100/"
            if kind == "page"
            else f"/api/v1/tasks/{task.pk}/users/100/snapshots/"
        )
        queries, reads = _listing_sql(client, url, dates)
        assert len(reads) == 2, reads  # COUNT, then one page
        assert any("COUNT(" in q.upper() for q in reads) and any("LIMIT" in q.upper() for q in reads), reads
        seen.append(queries)
    assert seen[0] == seen[1]


@pytest.mark.django_db
def test_the_snapshot_api_pages_through_every_snapshot(client: Any, admin: Any, make_task: Any) -> None:
    from boxvault.backups.models import TaskUser
    from portal.fixtures import login

    start = datetime(2030, 1, 1, 1, tzinfo=UTC)
    task = make_task(users=1, repository="/nonexistent/boxvault-repo")
    TaskUser.objects.filter(task=task).update(first_backup_at=start)
    _seed(task, 130, start)
    login(client, admin.user)
    url: str | None = (
        f"/api/v1/tasks/{task.pk}/users/100/snapshots/?from=2030-01-01&to=2030-12-31&page_size=60"
    )
    ids: list[str] = []
    while url:
        body = client.get(url).json()
        assert body["count"] == 130 and body["from"].startswith("2030-01-01")
        ids += [s["snapshot_id"] for s in body["results"]]
        url = body["next"]
    assert len(ids) == 130 == len(set(ids))
    assert ids[0] == f"{task.pk:04x}{129:05x}".ljust(64, "d")  # newest first
    beyond = client.get(f"/api/v1/tasks/{task.pk}/users/100/snapshots/", {"page": "99", "to": "2030-12-31"})
    assert beyond.status_code == 404 and beyond.json()["detail"]
