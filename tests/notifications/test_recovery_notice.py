"""Recovery notifications: when a restore or export ends, its recipients hear of it besides the initiator;
an SMTP server that refuses does not touch the job, and the message follows once it answers again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from notifications.fixtures import parts


def _end_export(admin: Any, status: str, **result: Any) -> Any:
    from boxvault.jobs import services as jobs
    from notifications.fixtures import FakeTask

    job = jobs.enqueue(
        account=admin.account,
        kind="export",
        initiator=admin.user,
        task=FakeTask(5, "Daily Box"),
        box_user_id="101",
        box_user_login="user1@box.example",
        destination="zip",
    )
    jobs.claim(job.pk, "w1")
    return jobs.finish(
        job.pk, "w1", status, result=result, message="" if status == "succeeded" else "disk full"
    )


@pytest.mark.django_db
def test_export_end_reaches_recipients_and_initiator(
    smtp: Any, admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.notifications import services

    services.add_recipient(
        for_user(admin.user), email="dpo@example.org", display_name="DPO", types=["recovery"]
    )
    services.add_recipient(for_user(admin.user), email="ops@example.org", types=["summary"])
    # the initiator as a recipient too: one e-mail (the recovery app's), not two
    services.add_recipient(for_user(admin.user), email="admin@a.example", types=["recovery"])
    with django_capture_on_commit_callbacks(execute=True):
        job = _end_export(admin, "succeeded", items=12, bytes=4096, download_url="/recovery/download/abc/")
    received = smtp.take()
    mails = {str(m["To"]): m for m in received}
    assert len(received) == 2 and set(mails) == {"DPO <dpo@example.org>", "admin@a.example"}
    assert "Hello" not in mails["admin@a.example"].get_content()  # the recovery app's own summary
    notice = mails["DPO <dpo@example.org>"]
    assert notice["Subject"] == "[boxvault] Export succeeded: Daily Box"
    text, html, _ = parts(notice)
    assert "Hello DPO," in text and "Items: 12" in text and "Started by: admin@a.example" in text
    assert "http://portal.test/recovery/download/abc/" in text and f"/jobs/{job.pk}/log/" in html
    assert 'for the boxvault account "Acme"' in text and "http://portal.test/settings/notifications/" in text


@pytest.mark.django_db
def test_smtp_down_never_fails_the_job_and_is_retried(
    smtp: Any, admin: Any, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.core import clock
    from boxvault.jobs.models import Job
    from boxvault.notifications import services
    from boxvault.notifications.dispatch import send_due
    from boxvault.notifications.models import Delivery

    services.add_recipient(for_user(admin.user), email="dpo@example.org", types=["recovery"])
    smtp.refuse = True
    with django_capture_on_commit_callbacks(execute=True):
        job = _end_export(admin, "failed")
    assert Job.objects.get(pk=job.pk).status == "failed" and smtp.take() == []
    row = Delivery.objects.get(type="recovery")
    assert row.status == "pending" and row.attempts == 1 and "451" in row.last_error
    assert "will retry" in caplog.text
    smtp.refuse = False
    later = clock.now() + timedelta(minutes=2)
    with clock.frozen_at(later):
        assert send_due(later)["sent"] == 1
    assert [m["Subject"] for m in smtp.take()] == ["[boxvault] Export failed: Daily Box"]
    row.refresh_from_db()
    assert row.status == "sent" and row.sent_to == ["dpo@example.org"]


@pytest.mark.django_db
def test_gives_up_after_the_last_attempt(
    smtp: Any, admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.core import clock
    from boxvault.notifications import outbox, services
    from boxvault.notifications.dispatch import send_due
    from boxvault.notifications.models import Delivery

    services.add_recipient(for_user(admin.user), email="dpo@example.org", types=["recovery"])
    smtp.refuse = True
    with django_capture_on_commit_callbacks(execute=True):
        _end_export(admin, "succeeded")
    moment = clock.now()
    for delay in outbox.RETRY_DELAYS:
        moment += delay + timedelta(seconds=1)
        with clock.frozen_at(moment):
            send_due(moment)
    row = Delivery.objects.get(type="recovery")
    assert row.status == "failed" and row.attempts == len(outbox.RETRY_DELAYS) + 1
    assert smtp.take() == []
