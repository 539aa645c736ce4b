"""Smart alerts: backups of a sandbox enterprise; ordinary changes raise nothing, a ransomware-like mass
"encryption" and a mass deletion raise one alert each, naming the user, on System Activity and by e-mail."""

from __future__ import annotations

import os
from typing import Any

import pytest

from notifications.fixtures import parts


def _backup(access: Any, task: Any, ids: list[str]) -> None:
    from boxvault.backups import services
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    services.user_action(access, task, "backup_now", ids)
    for job in Job.objects.filter(task_id=task.pk, status="pending").order_by("id"):
        assert jobs.run(job.pk) == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_mass_encryption_and_deletion_alert_ordinary_changes_do_not(
    smtp: Any, admin: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.sandbox import running_sandbox

    monkeypatch.setenv("BOXVAULT_BOX_RATE_PER_USER", "0")
    with running_sandbox(tmp_path, users=3, files_per_user=60, seed=21) as sandbox:
        _scenario(smtp, admin, sandbox)


def _scenario(smtp: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.activity.models import ActivityEvent
    from boxvault.backups import services
    from boxvault.backups.models import TaskUser
    from boxvault.notifications import services as notify
    from boxvault.notifications.models import ChangeStats

    access = for_user(admin.user)
    notify.add_recipient(access, email="soc@example.org", display_name="SOC", types=["smart_alerts"])
    task = services.create_ccg_task(
        access,
        name="Watched Box",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        enterprise_id=sandbox.enterprise_id,
        api_url=sandbox.url,
    )
    victim, leaver = sandbox.users[0], sandbox.users[1]
    ids = [victim["id"], leaver["id"]]
    services.user_action(access, task, "activate", ids)
    _backup(access, task, ids)  # the baseline: nothing to compare with yet
    assert ChangeStats.objects.count() == 0

    for day in range(3):  # ordinary days: 2 % of the enterprise's files change
        sandbox.mutate(fraction=0.02, seed=100 + day)
        _backup(access, task, ids)
    assert ChangeStats.objects.count() == 6
    assert not ChangeStats.objects.filter(alerted=True).exists()
    assert smtp.take() == []

    # Ransomware-like: half of the victim's files rewritten with random bytes and renamed, plus a note.
    report = sandbox.attack("encrypt", victim["id"], fraction=0.5, seed=7)
    assert len(report["file_ids"]) >= 20 and report["ransom_note"]["name"] == "HOW_TO_DECRYPT_FILES.txt"
    # Only the victim's backup runs now: a user who sees the victim's files through a shared folder would
    # (rightly) alert too, and this test wants one alert per attack.
    _backup(access, task, [victim["id"]])
    alerts = ChangeStats.objects.filter(alerted=True)
    assert [a.box_user_id for a in alerts] == [victim["id"]]
    stats = alerts.get()
    assert stats.modified == len(report["file_ids"]) and stats.renamed == len(report["file_ids"])
    assert stats.ransom_names == len(report["file_ids"]) + 1 and stats.deleted == 0
    mails = smtp.take()
    assert len(mails) == 1 and str(mails[0]["To"]) == "SOC <soc@example.org>"
    assert mails[0]["Subject"] == f"[boxvault] Smart alert: unusual changes in the Box of {victim['login']}"
    text, html, _ = parts(mails[0])
    assert f"{stats.modified} files modified" in text and ".locked" in text and "HOW_TO_DECRYPT_FILES" in text
    assert f"/recovery/snapshots/{task.pk}:{stats.previous_snapshot_id}/" in text
    assert "got new content" in text and "ransomware extensions" in text
    assert 'for the boxvault account "Acme"' in text and "Watched Box" in html
    activity = ActivityEvent.objects.get(activity="Smart alert")
    assert (
        activity.item == victim["login"] and activity.task_id == task.pk and "new content" in activity.summary
    )

    # A mass deletion of the other user's files.
    report = sandbox.attack("delete", leaver["id"], fraction=0.6, seed=8)
    _backup(access, task, [leaver["id"]])
    latest = ChangeStats.objects.filter(alerted=True).order_by("-id").first()
    assert latest is not None and latest.box_user_id == leaver["id"]
    assert latest.deleted >= len(report["file_ids"])  # and the victim's shared files it no longer sees
    mails = smtp.take()
    assert len(mails) == 1 and leaver["login"] in mails[0]["Subject"]
    assert "were deleted" in parts(mails[0])[0]
    assert ActivityEvent.objects.filter(activity="Smart alert").count() == 2
    assert TaskUser.objects.filter(task=task, status="active").count() == 2
    assert os.environ.get("BOXVAULT_BOX_RATE_PER_USER") == "0"


def test_entropy_and_names() -> None:
    from boxvault.notifications.smart import entropy, ransom_extension, ransom_note

    assert entropy(b"") == 0.0 and entropy(b"aaaa") == 0.0
    assert entropy(bytes(range(256)) * 16) == pytest.approx(8.0)
    assert entropy(os.urandom(4096)) > 7.9
    assert entropy(b"Quarterly report: revenue grew in every region. " * 80) < 5.0
    assert ransom_extension("budget.xlsx.locked") and ransom_extension("photo.JPG.wncry")
    assert not ransom_extension("notes.txt") and not ransom_extension(".locked")
    for name in (
        "HOW_TO_DECRYPT_FILES.txt",
        "README_FOR_DECRYPT.txt",
        "_readme.txt",
        "RESTORE-MY-FILES.html",
    ):
        assert ransom_note(name), name
    for name in ("README.md", "restore plan 2024.docx", "Decision log.xlsx"):
        assert not ransom_note(name), name
