"""Summary reports end to end: backup jobs through their real life cycle on a fake clock, the scheduler's
pass every simulated hour for five weeks, and every message read back from a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notifications.fixtures import finish_job, parts
from portal.fixtures import login

T0 = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday
FAIL_AT = datetime(2026, 3, 12, 2, tzinfo=UTC)


def _tenant(make_account: Callable[..., Any], make_task: Callable[..., Any], tag: str, **conf: Any) -> Any:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.models import Account
    from boxvault.notifications import services

    admin = make_account(email=f"admin@{tag}.example", name=f"Tenant {tag}")
    Account.objects.filter(pk=admin.account_id).update(created_at=T0)
    admin.account.refresh_from_db()
    task = make_task(admin, name=f"Box {tag}", users=2)
    access = for_user(admin.user)
    if conf:
        services.update_settings(access, **conf)
    services.add_recipient(access, email=f"{tag}@mail.example", display_name=f"Team {tag}", types=["summary"])
    admin.task = task
    return admin


def _simulate(tenants: list[Any], until: datetime, failing: set[str]) -> None:
    """Every day at 02:00 each user's backup ends; the pass runs every hour (as the scheduler would)."""
    from boxvault.backups.models import TaskUser
    from boxvault.core import clock
    from boxvault.notifications.dispatch import send_due

    moment = T0
    while moment < until:
        if moment.hour == 2:
            for tenant in tenants:
                for i, user in enumerate(TaskUser.objects.filter(task=tenant.task).order_by("id")):
                    bad = moment == FAIL_AT and i == 0 and tenant.account.name in failing
                    finish_job(
                        tenant.account,
                        tenant.task,
                        user,
                        "failed" if bad else "succeeded",
                        moment,
                        result={} if bad else {"files": 10 + i, "bytes": 1000 * (i + 1), "duration": 2.5},
                        message="Box answered 503 for every request" if bad else "",
                    )
        with clock.frozen_at(moment):
            send_due(moment)
        moment += timedelta(hours=1)


def _to(messages: list[Any], address: str) -> list[Any]:
    return [m for m in messages if address in str(m["To"])]


@pytest.mark.django_db
def test_five_weeks_of_reports(
    smtp: Any, make_account: Callable[..., Any], make_task: Callable[..., Any], client: Any, admin: Any
) -> None:
    daily = _tenant(make_account, make_task, "daily")
    weekly = _tenant(
        make_account,
        make_task,
        "weekly",
        frequency="weekly",
        report_format="failures",
        delivery="link",
        hour_utc=6,
    )
    monthly = _tenant(make_account, make_task, "monthly", frequency="monthly", hour_utc=5)
    quiet = _tenant(make_account, make_task, "quiet", failures_only=True)
    end = datetime(2026, 4, 5, tzinfo=UTC)
    _simulate([daily, weekly, monthly, quiet], end, failing={"Tenant weekly", "Tenant quiet"})
    inbox = smtp.take()

    # Daily: one report per day at 07:00, each period once, each with both users and a CSV that parses.
    mails = _to(inbox, "daily@mail.example")
    assert len(mails) == 35
    subjects = [m["Subject"] for m in mails]
    assert len(set(subjects)) == 35
    march10 = next(m for m in mails if "2026-03-09 to 2026-03-10" in m["Subject"])
    text, html, files = parts(march10)
    assert (
        "Hello Team daily," in text
        and "Tenant daily" in text
        and "http://portal.test/settings/notifications/" in text
    )
    assert "Tenant daily" in html and 'href="http://portal.test/settings/notifications/"' in html
    rows = list(csv.DictReader(io.StringIO(files["boxvault-report-2026-03-10.csv"])))
    assert [(r["box_user"], r["status"], r["runs"], r["items"]) for r in rows] == [
        ("user0@box.example", "Succeeded", "1", "10"),
        ("user1@box.example", "Succeeded", "1", "11"),
    ]
    assert "2 users, 2 runs: 2 succeeded" in text

    # Weekly failure details with a link: Mondays only; the failing week names the user and the reason.
    mails = _to(inbox, "weekly@mail.example")
    assert [m["Subject"].split(", ")[1] for m in mails] == [
        f"2026-{a} to 2026-{b}"
        for a, b in [
            ("03-01", "03-02"),
            ("03-02", "03-09"),
            ("03-09", "03-16"),
            ("03-16", "03-23"),
            ("03-23", "03-30"),
        ]
    ]
    text, _, files = parts(mails[2])
    assert files == {}  # link delivery: no attachment
    # the user failed on Thursday and succeeded since: still listed, with the reason of the failed run
    assert "user0@box.example: Succeeded" in text and "1 failed run" in text
    assert "Reason: Box answered 503 for every request" in text
    assert "user1@box.example" not in text  # failure details list only the failed
    assert "No backup failed in this period." in parts(mails[1])[0]
    url = re.search(r"http://portal\.test(/notifications/reports/\S+/)", text)
    assert url is not None
    path = url.group(1)
    # The link needs a signed-in member of the account: anonymous → sign-in, another tenant → 404.
    from boxvault.core import clock

    with clock.frozen_at(datetime(2026, 3, 18, tzinfo=UTC)):
        assert client.get(path).status_code == 302
        login(client, admin.user)
        assert client.get(path).status_code == 404
        login(client, weekly.user)
        got = client.get(path)
    assert got.status_code == 200 and got["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.content.decode())))
    assert [(r["box_user"], r["failed_runs"], r["reason"]) for r in rows] == [
        ("user0@box.example", "1", "Box answered 503 for every request")
    ]
    with clock.frozen_at(datetime(2026, 3, 19, 7, tzinfo=UTC)):  # 73 hours after it was issued
        expired = client.get(path)
    assert expired.status_code == 410 and b"expired" in expired.content
    assert client.get(path.replace("/reports/", "/reports/x")).status_code == 410

    # Monthly: the first on March 1st (the hours since the account began), then April 1st covering March.
    mails = _to(inbox, "monthly@mail.example")
    assert [m["Subject"].split(", ")[1] for m in mails] == [
        "2026-03-01 to 2026-03-01",
        "2026-03-01 to 2026-04-01",
    ]
    rows = list(csv.DictReader(io.StringIO(parts(mails[1])[2]["boxvault-report-2026-04-01.csv"])))
    assert [r["runs"] for r in rows] == ["31", "31"]

    # Failures only: nothing on clean days, one report for the day with the failure.
    mails = _to(inbox, "quiet@mail.example")
    assert [m["Subject"] for m in mails] == ["[boxvault] Backup report, 2026-03-11 to 2026-03-12"]
    assert len(inbox) == 35 + 5 + 2 + 1


@pytest.mark.django_db
def test_caught_up_once_after_downtime_and_retried_after_smtp_failure(
    smtp: Any, make_account: Callable[..., Any], make_task: Callable[..., Any], caplog: Any
) -> None:
    from boxvault.core import clock
    from boxvault.notifications.dispatch import send_due
    from boxvault.notifications.models import Delivery

    tenant = _tenant(make_account, make_task, "down")

    def run(moment: datetime) -> dict[str, Any]:
        with clock.frozen_at(moment):
            return send_due(moment)

    run(datetime(2026, 3, 1, 8, tzinfo=UTC))
    assert [m["Subject"] for m in smtp.take()] == ["[boxvault] Backup report, 2026-03-01 to 2026-03-01"]
    # Down from March 1st 08:00 to March 5th 10:00: one report for everything missed, not four.
    smtp.refuse = True
    outcome = run(datetime(2026, 3, 5, 10, tzinfo=UTC))
    assert outcome["queued"]["summary"] == 1 and outcome["retry"] == 1 and smtp.take() == []
    row = Delivery.objects.get(account=tenant.account, period_end=datetime(2026, 3, 5, 7, tzinfo=UTC))
    assert row.status == "pending" and row.attempts == 1 and "451" in row.last_error
    assert "will retry" in caplog.text
    smtp.refuse = False
    assert run(datetime(2026, 3, 5, 10, 0, 30, tzinfo=UTC))["sent"] == 0  # not before its retry time
    assert run(datetime(2026, 3, 5, 10, 2, tzinfo=UTC))["sent"] == 1
    mails = smtp.take()
    assert [m["Subject"] for m in mails] == ["[boxvault] Backup report, 2026-03-01 to 2026-03-05"]
    assert run(datetime(2026, 3, 5, 11, tzinfo=UTC))["queued"]["summary"] == 0
    assert smtp.take() == []


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_send_each_report_once(
    smtp: Any, make_account: Callable[..., Any], make_task: Callable[..., Any]
) -> None:
    from django.db import connection

    from boxvault.core import clock
    from boxvault.notifications.dispatch import send_due

    tenants = [_tenant(make_account, make_task, f"t{i}") for i in range(3)]
    moment = datetime(2026, 3, 2, 7, 5, tzinfo=UTC)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            barrier.wait(timeout=10)
            send_due(moment)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    with clock.frozen_at(moment):
        if in_memory:
            # Shared-cache in-memory SQLite locks tables instead of waiting: two passes one after the
            # other here; on PostgreSQL (CI runs db tests again there) two threads race.
            send_due(moment)
            send_due(moment)
        else:
            threads = [threading.Thread(target=scheduler) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
    assert errors == []
    mails = smtp.take()
    assert sorted(str(m["To"]) for m in mails) == sorted(f"Team t{i} <t{i}@mail.example>" for i in range(3))
    assert len(tenants) == 3
