"""The jobs page, its card partial, View Log, Cancel, CSV and the jobs API: permissions for each, filters,
bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
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
def jobs_set(admin: Any, outsider: Any, make_job: Callable[..., Any]) -> dict[str, Any]:
    from boxvault.jobs import services

    done = make_job(params={"steps": 2})
    services.run(done.pk, "w1")
    failed = make_job("test_fail", box_user_login="bob@box.example", initiator=admin.user)
    services.run(failed.pk, "w1")
    partial = make_job("test_partial", box_user_login="carol@box.example")
    services.run(partial.pk, "w1")
    running = make_job(box_user_login="dave@box.example")
    services.claim(running.pk, "w1")
    services.save_progress(running.pk, "w1", {"items_done": 5, "items_total": 10}, [("info", "half way")])
    with clock.frozen_at(clock.now() - timedelta(days=10)):
        old = make_job(box_user_login="old@box.example")
    theirs = make_job(account=outsider.account, box_user_login="globex@box.example")
    return {
        "done": done,
        "failed": failed,
        "partial": partial,
        "running": running,
        "old": old,
        "theirs": theirs,
    }


def test_jobs_page_counts_cards_and_week(client: Any, admin: Any, jobs_set: dict[str, Any]) -> None:
    login(client, admin.user)
    page = client.get("/jobs/")
    assert page.status_code == 200
    html = page.content.decode()
    for key, label in (
        ("in_progress", "In progress"),
        ("succeeded", "Succeeded"),
        ("failed", "Failed"),
        ("partially_succeeded", "Partially succeeded"),
    ):
        assert f'data-status="{key}"' in html and f"<strong>1</strong> {label}" in html
    assert 'id="job-{}"'.format(jobs_set["running"].pk) in html
    assert "old@box.example" not in html  # older than 7 days
    assert "globex@box.example" not in html
    assert 'hx-trigger="every 2s"' in html  # the running card polls
    assert 'hx-trigger="every 3s" hx-select="#job-counts"' in html  # and so do the counters meanwhile
    assert html.count("hx-trigger") == 2
    assert "<strong>0</strong> Pending" in html  # the pending one is older than 7 days
    assert "dave@box.example" in client.get("/jobs/?status=in_progress").content.decode()
    assert "dave@box.example" not in client.get("/jobs/?status=failed").content.decode()
    assert "old@box.example" in client.get("/jobs/?days=30").content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "",
            {
                "alice@box.example",
                "bob@box.example",
                "carol@box.example",
                "dave@box.example",
                "old@box.example",
            },
        ),
        ("status=failed", {"bob@box.example"}),
        ("q=carol", {"carol@box.example"}),
        ("initiator=admin@a.example", {"bob@box.example"}),
        ("kind=backup", set()),
        ("task=7&box_user=dave@box.example", {"dave@box.example"}),
        ("service=box&status=succeeded", {"alice@box.example"}),
    ],
)
def test_filters_agree_between_page_api_and_csv(
    client: Any, admin: Any, jobs_set: dict[str, Any], query: str, expected: set[str]
) -> None:
    login(client, admin.user)
    api = client.get(f"/api/v1/jobs/?{query}")
    assert api.status_code == 200
    assert {j["box_user_login"] for j in api.json()["results"]} == expected
    body = b"".join(client.get(f"/jobs/export.csv?{query}").streaming_content).decode()
    assert {r["Box user"] for r in csv.DictReader(io.StringIO(body))} == expected
    assert client.get(f"/jobs/?days=30&{query}").status_code == 200


def test_sort_oldest_first(client: Any, admin: Any, jobs_set: dict[str, Any]) -> None:
    login(client, admin.user)
    latest = [j["id"] for j in client.get("/api/v1/jobs/").json()["results"]]
    oldest = [j["id"] for j in client.get("/api/v1/jobs/?sort=oldest").json()["results"]]
    assert oldest == list(reversed(latest)) and oldest[0] == jobs_set["old"].pk


@pytest.mark.parametrize(
    "query",
    [
        "status=maybe",
        "kind=fly",
        "task=999",
        "days=-3",
        "days=abc",
        "since=2026-13-45",
        "sort=sideways",
        "initiator=nobody",
        "q=" + "x" * 201,
        "days=0",
    ],
)
def test_bad_filters_are_messages_not_500(
    client: Any, admin: Any, jobs_set: dict[str, Any], query: str
) -> None:
    login(client, admin.user)
    page = client.get(f"/jobs/?{query}")
    assert page.status_code == 200 and b"errorlist" in page.content
    assert client.get(f"/jobs/export.csv?{query}").status_code == 400
    api = client.get(f"/api/v1/jobs/?{query}")
    assert api.status_code == 400 and api.json()


def test_api_detail_has_progress_counts_and_log(admin: Any, jobs_set: dict[str, Any]) -> None:
    data = _api(admin).get(f"/api/v1/jobs/{jobs_set['running'].pk}/").json()
    assert data["status"] == "in_progress" and data["progress"] == 50
    assert data["items_done"] == 5 and data["items_total"] == 10
    assert [line["message"] for line in data["log"]] == ["half way"]
    failed = _api(admin).get(f"/api/v1/jobs/{jobs_set['failed'].pk}/").json()
    assert failed["status"] == "failed"
    assert any("the Box API said no" in line["message"] for line in failed["log"])
    assert not any("Traceback" in line["message"] for line in failed["log"])


def test_counters_count_pending_and_stop_polling_when_all_is_done(
    client: Any, admin: Any, make_job: Callable[..., Any]
) -> None:
    from boxvault.jobs import services

    login(client, admin.user)
    job = make_job()
    html = client.get("/jobs/").content.decode()
    assert "<strong>1</strong> Pending" in html and 'hx-select="#job-counts"' in html
    services.run(job.pk, "w1")
    html = client.get("/jobs/").content.decode()
    assert "<strong>0</strong> Pending" in html and "<strong>1</strong> Succeeded" in html
    assert 'hx-select="#job-counts"' not in html


def test_card_partial_and_log_page(client: Any, admin: Any, jobs_set: dict[str, Any]) -> None:
    login(client, admin.user)
    card = client.get(f"/jobs/{jobs_set['running'].pk}/card/", HTTP_HX_REQUEST="true")
    assert card.status_code == 200 and b"<article" in card.content and b"<html" not in card.content
    assert b'value="50"' in card.content
    log = client.get(f"/jobs/{jobs_set['failed'].pk}/log/").content.decode()
    assert "RuntimeError: the Box API said no" in log


def test_download_results_link_when_the_result_has_one(
    client: Any, admin: Any, jobs_set: dict[str, Any]
) -> None:
    from boxvault.jobs.models import Job

    Job.objects.filter(pk=jobs_set["done"].pk).update(result={"download_url": "/dl/abc?sig=1"})
    login(client, admin.user)
    html = client.get(f"/jobs/{jobs_set['done'].pk}/card/").content.decode()
    assert 'href="/dl/abc?sig=1"' in html and "Download Results" in html
    assert "Download Results" not in client.get(f"/jobs/{jobs_set['failed'].pk}/card/").content.decode()


def test_cancel_from_the_page_needs_csrf_and_the_operation(
    admin: Any, viewer: Any, jobs_set: dict[str, Any]
) -> None:
    from django.test import Client

    from boxvault.jobs.models import Job

    running = jobs_set["running"]
    strict = Client(enforce_csrf_checks=True)
    login(strict, admin.user)
    assert strict.post(f"/jobs/{running.pk}/cancel/").status_code == 403  # no CSRF token
    assert not Job.objects.get(pk=running.pk).cancel_requested
    viewer_client = login(Client(), viewer.user)
    assert viewer_client.post(f"/jobs/{running.pk}/cancel/").status_code == 403
    assert b"Cancel</button>" not in viewer_client.get("/jobs/").content
    admin_client = login(Client(), admin.user)
    assert b"Cancel</button>" in admin_client.get("/jobs/").content
    response = admin_client.post(f"/jobs/{running.pk}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b"Canceling" in response.content
    assert Job.objects.get(pk=running.pk).cancel_requested
    response = admin_client.post(f"/jobs/{jobs_set['done'].pk}/cancel/", follow=True)
    assert b"already finished" in response.content
    assert admin_client.get(f"/jobs/{running.pk}/cancel/").status_code == 405


def test_api_cancel(admin: Any, viewer: Any, outsider: Any, jobs_set: dict[str, Any]) -> None:
    pending = jobs_set["old"]
    assert _api(viewer).post(f"/api/v1/jobs/{pending.pk}/cancel/").status_code == 403
    assert _api(outsider).post(f"/api/v1/jobs/{pending.pk}/cancel/").status_code == 404
    response = _api(admin).post(f"/api/v1/jobs/{pending.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    again = _api(admin).post(f"/api/v1/jobs/{pending.pk}/cancel/")
    assert again.status_code == 400 and "already finished" in again.json()["detail"]


PAGES = ["/jobs/", "/jobs/{id}/card/", "/jobs/{id}/log/", "/jobs/export.csv"]


@pytest.mark.parametrize("url", PAGES)
def test_page_permissions(
    client: Any, admin: Any, viewer: Any, restricted: Any, outsider: Any, jobs_set: dict[str, Any], url: str
) -> None:
    url = url.format(id=jobs_set["running"].pk)
    assert client.get(url).status_code == 302  # anonymous → sign in
    assert login(client, admin.user).get(url).status_code == 200
    assert login(client, viewer.user).get(url).status_code == 200
    assert login(client, restricted.user).get(url).status_code == 403
    expected = 404 if "{id}" in PAGES[PAGES.index(url.replace(str(jobs_set["running"].pk), "{id}"))] else 200
    response = login(client, outsider.user).get(url)
    assert response.status_code == expected
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"dave@box.example" not in body


@pytest.mark.parametrize("url", ["/api/v1/jobs/", "/api/v1/jobs/{id}/"])
def test_api_permissions(
    admin: Any, viewer: Any, restricted: Any, outsider: Any, jobs_set: dict[str, Any], url: str
) -> None:
    url = url.format(id=jobs_set["running"].pk)
    assert APIClient().get(url).status_code in (401, 403)
    assert _api(admin).get(url).status_code == 200
    assert _api(viewer).get(url).status_code == 200
    assert _api(restricted).get(url).status_code == 403
    response = _api(outsider).get(url)
    if url.endswith("/jobs/"):
        assert response.status_code == 200 and response.json()["count"] == 1  # only Globex's own job
    else:
        assert response.status_code == 404


def test_member_sees_only_services_they_may_use(admin: Any, make_job: Callable[..., Any]) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member

    make_job()
    blind = add_member(
        for_user(admin.user),
        email="nos@a.example",
        password="Correct-Horse-Battery-9",
        operations=["view_tasks"],
        services=[],
    )
    assert _api(blind).get("/api/v1/jobs/").json()["count"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/jobs/0/",
        "/api/v1/jobs/abc/",
        "/api/v1/jobs/99999999999999999999/",
        "/jobs/0/log/",
        "/jobs/99999999/card/",
    ],
)
def test_unknown_ids_are_404(client: Any, admin: Any, url: str) -> None:
    login(client, admin.user)
    assert client.get(url).status_code == 404


def test_schema_lists_the_job_endpoints(client: Any, db: Any) -> None:
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in ("/api/v1/jobs/", "/api/v1/jobs/{id}/", "/api/v1/jobs/{id}/cancel/", "/api/v1/activity/"):
        assert path in paths


def test_dynamic_choices_survive_a_cached_class_field(
    client: Any, admin: Any, jobs_set: dict[str, Any]
) -> None:
    """Schema generation builds class-level form fields once; later requests still get their own choices."""
    from boxvault.activity.filters import ActivityFilter
    from boxvault.jobs.filters import JobFilter

    assert JobFilter.base_filters["task"].field is not None and ActivityFilter.base_filters["task"].field
    login(client, admin.user)
    assert client.get("/api/v1/jobs/?task=7").json()["count"] == 5
    assert client.get("/api/v1/activity/?task=7").status_code == 200


def test_log_page_refreshes_only_while_the_job_runs(
    client: Any, admin: Any, jobs_set: dict[str, Any]
) -> None:
    login(client, admin.user)
    running = client.get(f"/jobs/{jobs_set['running'].pk}/log/").content.decode()
    assert 'hx-trigger="every 3s"' in running and "half way" in running
    finished = client.get(f"/jobs/{jobs_set['done'].pk}/log/").content.decode()
    assert "hx-trigger" not in finished and "finished: succeeded" in finished


def test_api_list_pages_through_every_result_by_following_next(
    admin: Any, make_job: Callable[..., Any]
) -> None:
    made = {make_job(box_user_login=f"u{i}@box.example").pk for i in range(7)}
    api = _api(admin)
    url: str | None = "/api/v1/jobs/?page_size=3&days=30"
    seen: list[int] = []
    pages = 0
    while url:
        body = api.get(url).json()
        assert body["count"] == 7
        seen += [j["id"] for j in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3 and len(seen) == 7 and set(seen) == made
    assert api.get("/api/v1/jobs/?page_size=3&days=30&page=3").json()["next"] is None
    assert api.get("/api/v1/jobs/?page=99").status_code == 404


@pytest.mark.parametrize(
    ("page", "csv_url"),
    [
        ("/jobs/", "/jobs/export.csv"),
        ("/activity/", "/activity/export.csv"),
        ("/audit/", "/audit/export.csv"),
    ],
)
def test_a_to_date_before_from_is_explained_on_the_pages(
    client: Any, admin: Any, page: str, csv_url: str
) -> None:
    # The page said nothing and listed nothing; the API keeps its schema (any two dates, then an empty list).
    login(client, admin.user)
    query = "since=2026-03-05&until=2026-03-01"
    html = client.get(f"{page}?{query}").content.decode()
    assert "errorlist" in html and "nothing can match" in html
    assert client.get(f"{csv_url}?{query}").status_code == 400
    assert client.get(f"/api/v1/jobs/?{query}").status_code == 200


def test_filter_choices_are_read_only_when_needed(client: Any, admin: Any, jobs_set: dict[str, Any]) -> None:
    """The task and initiator choices are DISTINCT scans of every job of the tenant: an API call that does
    not filter by them must not run them; the page reads each once; a value given is still validated."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def distinct_scans(url: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            status = client.get(url).status_code
        return status, sum("DISTINCT" in q["sql"].upper() for q in ctx.captured_queries)

    login(client, admin.user)
    assert distinct_scans("/api/v1/jobs/") == (200, 0)
    assert distinct_scans("/api/v1/jobs/?status=failed") == (200, 0)
    assert distinct_scans("/jobs/") == (200, 2)  # the form's two select lists, once each
    assert distinct_scans("/api/v1/jobs/?initiator=nobody") == (400, 1)
