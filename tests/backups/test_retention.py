"""Retention that deletes, on a fake clock over simulated months: snapshots written one a day (with the
engine, at their day's time), the daily pass run each day at 04:41 UTC as the scheduler would, its jobs run.
Snapshots older than the period disappear on the right day, nothing within it is touched, the deleted data's
bytes leave storage, a user whose backups stopped loses them too (counted from now, not from the newest
snapshot), and an archived user is purged on their day."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

START = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)  # backups at 01:00, the pass at 04:41


def _write_snapshot(repo: Any, login: str, box_user_id: str, when: datetime, unique: bytes) -> str:
    with repo.writer(pack_size=2**20) as w:
        b = w.snapshot(
            hostname="box-e1", paths=[f"/{login}"], tags=["box", f"user:{box_user_id}", "task:t"], time=when
        )
        with b.add_file(f"/{login}/shared.txt") as f:
            f.write(b"the same in every snapshot\n" * 100)
        with b.add_file(f"/{login}/day-{when:%Y%m%d}.bin") as f:
            f.write(unique)
        return str(b.commit())


def _plaintext(task: Any) -> bytes:
    """Every blob of every pack, decrypted, concatenated (pack headers, not the index)."""
    from boxvault.backups.repository import open_repository
    from boxvault.engine.maint_io import list_ids, read_blob
    from boxvault.engine.repair import _read_pack_header

    parts = []
    with open_repository(task) as repo:
        for pack_id, size in list(list_ids(repo, "data")):
            parts += [read_blob(repo, rec) for rec in _read_pack_header(repo, pack_id, size)]
    return b"".join(parts)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_retention_on_a_fake_clock_over_months(make_task: Any) -> None:
    from boxvault.activity.models import ActivityEvent
    from boxvault.backups import retention, services
    from boxvault.backups.models import TaskUser
    from boxvault.backups.repository import open_repository
    from boxvault.core import clock
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    task = make_task(users=3, retention="months", retention_value=1, archived_retention_days=10)
    active, paused, leaver = TaskUser.objects.filter(task=task).order_by("box_user_id")
    content: dict[str, bytes] = {}  # snapshot id -> its unique bytes
    times: dict[str, datetime] = {}
    owner: dict[str, str] = {}
    removed_on: dict[str, datetime] = {}
    day = START
    for n in range(62):
        # 01:00: today's backups (the paused user stops after day 10, the leaver after day 22)
        with open_repository(task) as repo:
            for user, last in ((active, 61), (paused, 10), (leaver, 22)):
                if n <= last:
                    unique = os.urandom(3000) + f"{user.box_user_id}-{n}".encode()
                    sid = _write_snapshot(repo, user.login, user.box_user_id, day, unique)
                    content[sid], times[sid], owner[sid] = unique, day, user.box_user_id
        if n == 23:  # the leaver disappears from Box (24 January): Archived today
            TaskUser.objects.filter(pk=leaver.pk).update(status="archived", archived_at=day)
        # 04:41: the daily retention pass and the hourly purge, then their jobs
        moment = day.replace(hour=4, minute=41)
        with clock.frozen_at(moment):
            retention.apply_all()
            services.purge_due()
            for job in Job.objects.filter(status="pending").order_by("id"):
                assert jobs.run(job.pk) == "succeeded"
        with open_repository(task) as repo:
            present = {s.id for s in repo.list_snapshots()}
        limit = retention.cutoff(task, moment)
        assert limit is not None
        for sid in [s for s in times if s not in removed_on]:
            if sid not in present:
                removed_on[sid] = moment
        # nothing within the period is touched; everything older is gone
        assert all(times[s] >= limit for s in present)
        assert all(s in present for s in times if times[s] >= limit and s not in removed_on)
        day += timedelta(days=1)

    # each snapshot went on the first pass after it turned one calendar month old, not a day earlier
    # (the leaver's last ones went with the purge instead)
    for sid, gone in removed_on.items():
        if owner[sid] == leaver.box_user_id and gone.date() == date(2026, 2, 3):
            continue
        assert retention.cutoff(task, gone) > times[sid], sid  # type: ignore[operator]
        assert retention.cutoff(task, gone - timedelta(days=1)) <= times[sid], sid  # type: ignore[operator]
    jan1 = [s for s in times if times[s] == START]
    assert {removed_on[s].date() for s in jan1} == {date(2026, 2, 1)}
    # calendar months: 28 February minus one month is 28 January, 1 March minus one month is 1 February, so
    # the snapshots of 29, 30 and 31 January all go on 1 March, the first pass whose cutoff passes them
    late_jan = [
        s
        for s in times
        if owner[s] == active.box_user_id and date(2026, 1, 29) <= times[s].date() <= date(2026, 1, 31)
    ]
    assert len(late_jan) == 3 and {removed_on[s].date() for s in late_jan} == {date(2026, 3, 1)}
    # counted from now: the paused user's snapshots are all gone, although the last ones were its newest
    with open_repository(task) as repo:
        left = repo.list_snapshots()
    assert not [s for s in left if f"user:{paused.box_user_id}" in s.tags]
    assert max(times[s] for s in times if owner[s] == paused.box_user_id) == START + timedelta(days=10)
    # the archived user: purged on archived_at + 10 days (24 January + 10 = 3 February), row and all
    assert not TaskUser.objects.filter(pk=leaver.pk).exists()
    purge = Job.objects.get(kind="purge", task_id=task.pk)
    assert purge.started_at.date() == date(2026, 2, 3)
    # the active user keeps exactly its last month
    mine = sorted(s.datetime for s in left if f"user:{active.box_user_id}" in s.tags)
    assert mine and mine[-1] == START + timedelta(days=61)
    assert mine[0] >= retention.cutoff(task, day - timedelta(days=1))  # type: ignore[operator]

    # the bytes of deleted snapshots left storage; the kept ones' are all there
    stored = _plaintext(task)
    for sid, unique in content.items():
        assert (unique in stored) == (sid not in removed_on), sid
    # the jobs say what they removed, and System Activity has them
    jobs_done = Job.objects.filter(kind="retention", task_id=task.pk)
    assert sum(j.result.get("snapshots_removed", 0) for j in jobs_done) + purge.result[
        "snapshots_removed"
    ] == len(removed_on)
    assert sum(j.result.get("bytes_removed", 0) for j in jobs_done) > 0
    assert ActivityEvent.objects.filter(activity="Retention", task_id=task.pk).count() == jobs_done.count()
