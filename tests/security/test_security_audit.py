"""The audit trail: rows from sign-ins and services, the page's filters and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from boxvault.core import clock
from portal.fixtures import PASSWORD, login

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (CHROME, "Chrome"),
        (FIREFOX, "Firefox"),
        ("Mozilla/5.0 Chrome/1 Safari/537.36 Edg/120", "Edge"),
        ("Mozilla/5.0 (Macintosh) AppleWebKit/605 Version/17 Safari/605.1.15", "Safari"),
        ("", "Unknown browser"),
    ],
)
def test_browser_names(agent: str, name: str) -> None:
    from boxvault.security.useragent import browser_name

    assert browser_name(agent) == name


def test_sign_in_rows_carry_browser_and_ip(client: Any, admin: Any) -> None:
    from boxvault.security.models import AuditEvent

    client.post(
        "/accounts/login/",
        {"login": "admin@a.example", "password": "bad-one-123"},
        HTTP_USER_AGENT=FIREFOX,
        REMOTE_ADDR="10.1.2.3",
    )
    client.post(
        "/accounts/login/", {"login": "admin@a.example", "password": PASSWORD}, HTTP_USER_AGENT=CHROME
    )
    rows = list(AuditEvent.objects.filter(account=admin.account, activity="sign_in").order_by("id"))
    assert [(r.status, r.description) for r in rows] == [
        ("failed", "Native Sign In (Failed) Firefox from ip 10.1.2.3"),
        ("ok", "Native Sign In (OK) Chrome from ip 127.0.0.1"),
    ]
    assert rows[1].performed_by == "admin@a.example" and rows[1].ip == "127.0.0.1"


def test_audit_row_rolls_back_with_its_change(admin: Any) -> None:
    """The row is written in the change's transaction: a refused change leaves no audit row."""
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import ServiceError, update_member
    from boxvault.security.models import AuditEvent

    before = AuditEvent.objects.count()
    with pytest.raises(ServiceError):
        update_member(
            for_user(admin.user),
            admin,
            first_name="",
            last_name="",
            role="custom",
            operations=[],
            services=[],
        )
    assert AuditEvent.objects.count() == before


@pytest.fixture
def history(admin: Any, outsider: Any) -> Any:
    from boxvault.security.models import AuditEvent
    from boxvault.security.services import record

    with clock.frozen_at(datetime(2026, 1, 10, 12, tzinfo=UTC)):
        record(admin.account, AuditEvent.Activity.SETTINGS_CHANGED, "=HYPERLINK(1)", actor=admin.user)
    with clock.frozen_at(datetime(2026, 2, 10, 12, tzinfo=UTC)):
        record(
            admin.account,
            AuditEvent.Activity.SIGN_IN,
            "Native Sign In (Failed) curl from ip 1.2.3.4",
            actor=admin.user,
            status="failed",
        )
    record(
        outsider.account, AuditEvent.Activity.SETTINGS_CHANGED, "Globex secret change", actor=outsider.user
    )
    return admin


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"account_created", "settings_changed", "sign_in"}),
        ("activity=settings_changed", {"settings_changed"}),
        ("status=failed", {"sign_in"}),
        ("since=2026-02-01&until=2026-02-28", {"sign_in"}),
        ("q=HYPERLINK", {"settings_changed"}),
        ("performed_by=nobody", set()),
    ],
)
def test_filters_page_and_csv_agree(client: Any, history: Any, query: str, expected: set[str]) -> None:
    from boxvault.security.models import AuditEvent

    login(client, history.user)
    page = client.get(f"/audit/?{query}")
    assert page.status_code == 200
    body = b"".join(client.get(f"/audit/export.csv?{query}").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    labels = {AuditEvent.Activity(a).label: a for a in AuditEvent.Activity.values}
    assert {labels[r["Activity"]] for r in rows} == expected
    api = client.get(f"/api/v1/audit/?{query}").json()
    assert {r["activity"] for r in api["results"]} == expected
    assert "Globex" not in body and "Globex" not in page.content.decode()


def test_csv_neutralises_formulas(client: Any, history: Any) -> None:
    login(client, history.user)
    body = b"".join(client.get("/audit/export.csv?activity=settings_changed").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["Date (UTC)", "Activity", "Service"]
    assert rows[1][-1] == "'=HYPERLINK(1)"  # a leading quote keeps spreadsheets from running it


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "activity=nope",
        "status=maybe",
        "since=2026-13-45",
        "q=" + "x" * 201,
    ],
)
def test_bad_filters_are_messages_not_500(client: Any, history: Any, query: str) -> None:
    login(client, history.user)
    page = client.get(f"/audit/?{query}")
    assert page.status_code == 200 and b"errorlist" in page.content
    assert client.get(f"/audit/export.csv?{query}").status_code == 400
    api = client.get(f"/api/v1/audit/?{query}")
    assert api.status_code == 400 and api.json()
