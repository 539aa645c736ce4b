"""System activity: rows written by job completion and record_activity, the page (filters, pop-up, SVG
plots), CSV export, the API, permissions and bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from boxvault.api.tokens import create_token
from boxvault.core import clock
from portal.fixtures import login


def _api(member: Any) -> APIClient:
    _, key = create_token(member.user, "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def history(admin: Any, outsider: Any, make_job: Callable[..., Any]) -> Any:
    from boxvault.activity.services import record_activity

    for day, size, seconds in ((1, 1000, 30.0), (2, 1500, 45.0), (3, 1200, 40.0)):
        with clock.frozen_at(datetime(2026, 3, day, 4, tzinfo=UTC)):
            record_activity(
                admin.account,
                "Backup",
                status="succeeded",
                task_id=7,
                task_name="Daily Box",
                item="alice@box.example",
                execution_seconds=seconds,
                size_bytes=size,
                stored_bytes=size // 10,
                items_count=12,
                summary=f"day {day} run",
                sub_service="Files",
            )
    with clock.frozen_at(datetime(2026, 3, 3, 5, tzinfo=UTC)):
        record_activity(
            admin.account,
            "Backup",
            status="failed",
            task_id=8,
            task_name="Legal",
            item="=cmd|' /C calc'!A0",
            summary="token revoked",
        )
    record_activity(outsider.account, "Backup", status="succeeded", task_name="Globex task", item="globex")
    return admin


def test_job_completion_writes_an_activity_row(admin: Any, make_job: Callable[..., Any]) -> None:
    from boxvault.activity.models import ActivityEvent
    from boxvault.jobs import services

    job = make_job(params={"steps": 3, "sub_service": "Files"})
    services.run(job.pk, "w1")
    event = ActivityEvent.objects.get(job=job)
    assert (event.activity, event.status, event.task_id, event.sub_service) == (
        "Test sleep",
        "succeeded",
        7,
        "Files",
    )
    assert event.execution_seconds is not None and event.execution_seconds >= 0
    assert event.items_count == 3 and event.size_bytes == 300 and event.stored_bytes == 150
    assert event.summary == "Test sleep succeeded; 3 item(s); 300 bytes"


def test_page_rows_popup_and_plots(client: Any, history: Any) -> None:
    login(client, history.user)
    html = client.get("/activity/").content.decode()
    assert "Globex" not in html
    assert html.count("popovertarget=") == 4 and "day 2 run" in html and "45.0 s" in html
    assert html.count("<svg") == 2  # size and duration for the one task with successful backups
    assert 'aria-label="Backup size of Daily Box"' in html and "2026-03-01" in html and "2026-03-03" in html
    assert html.count('class="dot"') == 6 and "<script" not in html.split("<main", 1)[1]
    failed = client.get("/activity/?status=failed").content.decode()
    assert "token revoked" in failed and "<svg" not in failed


def test_plot_points_follow_the_data(history: Any) -> None:
    from boxvault.activity.models import ActivityEvent
    from boxvault.activity.plots import plots

    size, duration = plots(ActivityEvent.objects.filter(account=history.account))
    assert [v for _, v in size.points] == [1000.0, 1500.0, 1200.0]
    assert [v for _, v in duration.points] == [30.0, 45.0, 40.0]
    assert "1.5\xa0KB" in size.svg or "1.5 KB" in size.svg  # the top of the axis is the largest value


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"alice@box.example", "=cmd|' /C calc'!A0"}),
        ("status=failed", {"=cmd|' /C calc'!A0"}),
        ("task=7", {"alice@box.example"}),
        ("q=day 2", {"alice@box.example"}),
        ("since=2026-03-03&until=2026-03-03", {"alice@box.example", "=cmd|' /C calc'!A0"}),
        ("activity=Backup&service=box", {"alice@box.example", "=cmd|' /C calc'!A0"}),
    ],
)
def test_filters_agree_between_page_api_and_csv(
    client: Any, history: Any, query: str, expected: set[str]
) -> None:
    login(client, history.user)
    assert client.get(f"/activity/?{query}").status_code == 200
    api = client.get(f"/api/v1/activity/?{query}").json()
    assert {r["item"] for r in api["results"]} == expected
    body = b"".join(client.get(f"/activity/export.csv?{query}").streaming_content).decode()
    items = {r["Item"] for r in csv.DictReader(io.StringIO(body))}
    assert {i.removeprefix("'") for i in items} == expected
    api_csv = client.get(f"/api/v1/activity/?format=csv&{query}")
    assert api_csv["Content-Type"].startswith("text/csv")
    assert b"".join(api_csv.streaming_content).decode() == body


def test_csv_columns_and_formula_guard(client: Any, history: Any) -> None:
    login(client, history.user)
    body = b"".join(client.get("/activity/export.csv?status=failed").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:7] == ["Date (UTC)", "Activity", "Service", "Sub-service", "Status", "Task", "Item"]
    assert rows[1][6] == "'=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "status=maybe",
        "task=abc",
        "activity=Nope",
        "q=" + "x" * 201,
    ],
)
def test_bad_filters_are_messages_not_500(client: Any, history: Any, query: str) -> None:
    login(client, history.user)
    page = client.get(f"/activity/?{query}")
    assert page.status_code == 200 and b"errorlist" in page.content
    assert client.get(f"/activity/export.csv?{query}").status_code == 400
    api = client.get(f"/api/v1/activity/?{query}")
    assert api.status_code == 400 and api.json()


@pytest.mark.parametrize("url", ["/activity/", "/activity/export.csv", "/api/v1/activity/"])
def test_permissions(
    client: Any, history: Any, viewer: Any, restricted: Any, outsider: Any, url: str
) -> None:
    api = url.startswith("/api/")
    anonymous = (APIClient() if api else client).get(url)
    assert anonymous.status_code in ((401, 403) if api else (302,))
    for member, status in ((history, 200), (viewer, 200), (restricted, 403), (outsider, 200)):
        response = _api(member).get(url) if api else login(client, member.user).get(url)
        assert response.status_code == status, (member, url)
        if status == 200:
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert (b"Globex" in body) == (member is outsider)
