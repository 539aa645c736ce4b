"""The Jobs search (`q=`): what it matches, on the page and the API alike, and on PostgreSQL that each of its
substring matches is answered from a trigram index rather than a read of every job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from portal.fixtures import login


@pytest.fixture
def searchable(admin: Any, outsider: Any, make_job: Callable[..., Any]) -> dict[str, Any]:
    from boxvault.jobs.models import Job

    jobs = {
        "restore": make_job("restore", box_user_login="rita@box.example", box_user_id="2002"),
        "export": make_job("export", box_user_login="eve@box.example", destination="s3://exports-bucket/eve"),
        "scheduled": make_job("backup", box_user_login="sam@box.example", task=None, box_user_id="3003"),
        "theirs": make_job("restore", account=outsider.account, box_user_login="rival@box.example"),
    }
    Job.objects.filter(pk=jobs["scheduled"].pk).update(message="Box answered 503 three times")
    return jobs


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("restore", {"restore"}),  # the activity, by its value
        ("EXPORT", {"export"}),  # case does not matter
        ("exports-bucket", {"export"}),  # the destination
        ("answered 503", {"scheduled"}),  # the job's message
        ("3003", {"scheduled"}),  # the Box user id, exactly
        ("rita@box", {"restore"}),  # part of the login
        ("daily box", {"restore", "export"}),  # the task's name
        ("zz-nothing", set()),
    ],
)
def test_search_matches_each_field_and_never_another_tenant(
    client: Any, admin: Any, searchable: dict[str, Any], q: str, expected: set[str]
) -> None:
    login(client, admin.user)
    ids = {name: job.pk for name, job in searchable.items()}
    got = {j["id"] for j in client.get("/api/v1/jobs/", {"q": q}).json()["results"]}
    assert got == {ids[name] for name in expected}
    page = client.get("/jobs/", {"q": q, "days": 30}).content.decode()
    for name, pk in ids.items():
        assert (f'id="job-{pk}"' in page) == (name in expected), name


def test_search_by_job_number(client: Any, admin: Any, searchable: dict[str, Any]) -> None:
    login(client, admin.user)
    pk = searchable["export"].pk
    assert pk in {j["id"] for j in client.get("/api/v1/jobs/", {"q": str(pk)}).json()["results"]}
    theirs = searchable["theirs"].pk
    assert client.get("/api/v1/jobs/", {"q": str(theirs)}).json()["results"] == []


@pytest.mark.django_db(transaction=True)
def test_postgres_search_matches_can_read_their_trigram_indexes(make_job: Callable[..., Any]) -> None:
    """Each substring match of the search, as the ORM writes it, is the expression its index was built on.
    (Whether the planner then prefers the indexes depends on the table's size: at 100,000 jobs it does, see
    bench/portal_lists.py; a table this small it reads whole, so the other plans are switched off here.)"""
    from django.db import connection

    from boxvault.jobs.filters import SEARCHED
    from boxvault.jobs.models import Job

    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's; the SQLite run checks the search's results above")
    make_job("backup", box_user_login="user4242@box.example")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        try:
            for column in SEARCHED:
                qs = Job.objects.filter(**{f"{column}__icontains": "user4242@"})
                sql, params = qs.query.sql_with_params()
                cursor.execute("EXPLAIN " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                assert f"Bitmap Index Scan on jobs_job_q_{column}" in plan, plan
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_indexscan")
