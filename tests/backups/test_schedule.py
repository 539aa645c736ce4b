"""The scheduler: slots as a pure function, and claiming on a fake clock over simulated days."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from boxvault.backups.schedule import PERIOD_DAYS, next_slot

T0 = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


def test_daily_slot_is_the_next_hour_strictly_after() -> None:
    assert next_slot("daily", 11, T0) == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert next_slot("daily", 10, T0) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    exact = datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert next_slot("daily", 10, exact) == datetime(2026, 3, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize("frequency", ["daily", "every_3_days", "weekly"])
def test_slots_are_periodic_and_on_the_hour(frequency: str) -> None:
    period = PERIOD_DAYS[frequency]
    rng = random.Random(frequency)
    for _ in range(300):
        after = T0 + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
        hour = rng.randrange(24)
        slot = next_slot(frequency, hour, after)
        assert slot > after
        assert slot - after <= timedelta(days=period)
        assert (slot.hour, slot.minute, slot.second) == (hour, 0, 0)
        assert (slot.date() - date(2000, 1, 1)).days % period == 0
        assert next_slot(frequency, hour, slot) == slot + timedelta(days=period)
        # nothing in between: the slot just before is not after `after`
        assert slot - timedelta(days=period) <= after


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        next_slot("daily", 24, T0)
    with pytest.raises(ValueError):
        next_slot("hourly", 1, T0)


def _expected_slots(
    frequency: str, hour: int, start: datetime, end: datetime, down: tuple[datetime, datetime]
) -> int:
    """Slots in (start, end], where all slots inside a downtime count once (caught up when back)."""
    count, slot, missed = 0, next_slot(frequency, hour, start), False
    while slot <= end:
        if down[0] <= slot < down[1]:
            missed = True
        else:
            count += 1
        slot = next_slot(frequency, hour, slot)
    return count + (1 if missed else 0)


@pytest.mark.django_db(transaction=True)
def test_simulated_days_every_due_user_runs_once_per_slot_even_with_two_schedulers(make_task: Any) -> None:
    from boxvault.backups import schedule
    from boxvault.backups.models import TaskUser

    rng = random.Random(7)
    tasks = []
    for i in range(6):
        frequency = ["daily", "every_3_days", "weekly"][i % 3]
        tasks.append(make_task(name=f"T{i}", users=3, frequency=frequency, hour_utc=rng.randrange(24)))
    for u in TaskUser.objects.select_related("task"):
        u.status = TaskUser.Status.SCHEDULED
        u.next_run_at = next_slot(u.task.frequency, u.task.hour_utc, T0)
        u.save()
    paused = TaskUser.objects.filter(task=tasks[0]).first()
    assert paused is not None
    TaskUser.objects.filter(pk=paused.pk).update(status=TaskUser.Status.PAUSED, next_run_at=None)

    runs: dict[int, list[datetime]] = {}
    lock = threading.Lock()

    def start(user: TaskUser) -> None:
        with lock:
            runs.setdefault(user.pk, []).append(now)
        # the job finishes at once: back to Active (runner._settle does this after a real run)
        TaskUser.objects.filter(pk=user.pk).update(status=TaskUser.Status.ACTIVE, running_since=None)

    end = T0 + timedelta(days=15)
    down = (T0 + timedelta(days=4, hours=3), T0 + timedelta(days=6, hours=20))  # server off ~2.7 days
    now = T0
    while now <= end:
        if not (down[0] <= now < down[1]):
            # two schedulers see the same due rows before either claims: only one wins each user
            first = list(schedule.due(now))
            second = list(schedule.due(now))
            for a, b in zip(first, second, strict=True):
                for candidate in (a, b):
                    with_lock = schedule.claim(candidate, now)
                    if with_lock:
                        start(candidate)
        now += timedelta(minutes=20)

    for u in TaskUser.objects.select_related("task"):
        if u.pk == paused.pk:
            assert u.pk not in runs
            continue
        expected = _expected_slots(u.task.frequency, u.task.hour_utc, T0, end, down)
        assert len(runs.get(u.pk, [])) == expected, (u.task.frequency, u.task.hour_utc)
        times = runs[u.pk]
        assert len(set(times)) == len(times)


@pytest.mark.django_db(transaction=True)
def test_concurrent_scheduler_threads_never_double_claim(make_task: Any) -> None:
    from django.db import connection

    from boxvault.backups import schedule
    from boxvault.backups.models import TaskUser

    if connection.vendor == "sqlite":
        pytest.skip("in-memory SQLite test databases lock per table across threads; PostgreSQL runs this")
    for i in range(3):
        make_task(name=f"C{i}", users=5)
    TaskUser.objects.update(status=TaskUser.Status.ACTIVE, next_run_at=T0 - timedelta(hours=1))
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                ids = schedule.tick(T0, lambda user: None)
                with lock:
                    claimed.extend(ids)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(claimed) == sorted(TaskUser.objects.values_list("pk", flat=True))
    assert TaskUser.objects.filter(status=TaskUser.Status.IN_PROCESS).count() == 15
    nxt = next_slot("daily", 1, T0)
    assert set(TaskUser.objects.values_list("next_run_at", flat=True)) == {nxt}


@pytest.mark.django_db
def test_scheduler_tick_queues_backup_jobs(
    make_task: Any, queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    from boxvault.backups.models import TaskUser
    from boxvault.backups.services import run_scheduler
    from boxvault.jobs.models import Job

    task = make_task(users=2)
    TaskUser.objects.filter(task=task).update(status=TaskUser.Status.SCHEDULED, next_run_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(run_scheduler(T0 + timedelta(minutes=1))) == 2
        assert run_scheduler(T0 + timedelta(minutes=2)) == []  # in process: not again
    jobs = list(Job.objects.order_by("id"))
    assert [j.kind for j in jobs] == ["backup", "backup"]
    assert all(j.initiator_id is None and j.task_id == task.pk for j in jobs)
    assert sorted(queued) == [j.pk for j in jobs]
    assert {j.params["previous_status"] for j in jobs} == {"scheduled"}


@pytest.mark.django_db
def test_one_tick_queues_a_whole_slot_in_batches_within_its_budget(
    make_task: Any, queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    """A slot bigger than one batch is queued by one tick; a spent budget leaves the rest to the next."""
    from boxvault.backups.models import TaskUser
    from boxvault.backups.services import run_scheduler

    task = make_task(users=5)
    TaskUser.objects.filter(task=task).update(status=TaskUser.Status.SCHEDULED, next_run_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(run_scheduler(T0 + timedelta(minutes=1), batch=2)) == 5
    assert len(queued) == 5
    assert not TaskUser.objects.filter(task=task, status=TaskUser.Status.SCHEDULED).exists()

    TaskUser.objects.filter(task=task).update(status=TaskUser.Status.SCHEDULED, next_run_at=T0)
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = run_scheduler(T0 + timedelta(minutes=1), batch=2, budget_s=0)
        assert len(first) == 2  # one batch, then the budget is spent
        rest = run_scheduler(T0 + timedelta(minutes=2), batch=2)
    assert len(rest) == 3 and not set(first) & set(rest)
    assert len(queued) == 5


@pytest.mark.django_db
def test_a_user_whose_job_died_pending_is_released(make_task: Any, admin: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.backups.models import TaskUser
    from boxvault.backups.services import release_stuck, user_action
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    task = make_task(users=1)
    access = for_user(admin.user)
    user_action(access, task, "activate", ["100"])
    user_action(access, task, "backup_now", ["100"])
    row = TaskUser.objects.get(task=task)
    assert row.status == "in_process"
    assert release_stuck(row.running_since + timedelta(minutes=5)) == 0  # its job is still pending
    jobs.cancel(access, Job.objects.get(task_id=task.pk))
    assert release_stuck(row.running_since + timedelta(minutes=1)) == 0  # too recent
    assert release_stuck(row.running_since + timedelta(minutes=5)) == 1
    row.refresh_from_db()
    assert row.status == "active" and row.running_since is None


@pytest.mark.django_db
def test_backup_now_after_the_job_ended_starts_one_and_says_why_otherwise(
    make_task: Any, admin: Any, client: Any
) -> None:
    # The user stayed "In Process" ~2.5 min after its job failed, and Backup Now answered `jobs: []`.
    from rest_framework.test import APIClient

    from boxvault.accounts.access import for_user
    from boxvault.backups.models import TaskUser
    from boxvault.backups.services import user_action
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    task = make_task(users=1)
    access = for_user(admin.user)
    user_action(access, task, "activate", ["100"])
    api = APIClient()
    api.force_authenticate(admin.user)
    url = f"/api/v1/tasks/{task.pk}/users/actions/"
    first = api.post(url, {"action": "backup_now", "box_user_ids": ["100"]}, format="json").json()
    assert len(first["jobs"]) == 1 and first["not_started"] == []
    # pressed again while that job waits: nothing new, and the answer says why
    again = api.post(url, {"action": "backup_now", "box_user_ids": ["100"]}, format="json").json()
    assert again["jobs"] == [] and "already has a backup running" in again["not_started"][0]["reason"]
    # the job ends (canceled here; failed is the same) while the user still shows In Process
    jobs.cancel(access, Job.objects.get(task_id=task.pk))
    assert TaskUser.objects.get(task=task).status == "in_process"
    third = api.post(url, {"action": "backup_now", "box_user_ids": ["100"]}, format="json").json()
    assert len(third["jobs"]) == 1 and third["not_started"] == []
    assert Job.objects.get(pk=third["jobs"][0]["id"]).params["previous_status"] == "active"


@pytest.mark.django_db
def test_a_slot_that_comes_while_the_backup_still_runs_is_covered_not_doubled(
    make_task: Any, admin: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # a first backup of a huge user runs for more than a day: the next night's slot finds it running
    from boxvault.backups.models import TaskUser
    from boxvault.backups.runner import _settle
    from boxvault.backups.services import run_scheduler
    from boxvault.jobs.models import Job, JobLogLine
    from portal.fixtures import login

    task = make_task(users=1, frequency="daily", hour_utc=10)
    TaskUser.objects.filter(task=task).update(status=TaskUser.Status.SCHEDULED, next_run_at=T0)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(run_scheduler(T0 + timedelta(minutes=1))) == 1
    job = Job.objects.get()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.IN_PROGRESS)
    user = TaskUser.objects.get(task=task)
    second = user.next_run_at
    assert second == datetime(2026, 3, 2, 10, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_scheduler(second + timedelta(minutes=1)) == []
        assert run_scheduler(second + timedelta(minutes=2)) == []  # covered once, not again
    assert Job.objects.count() == 1
    user.refresh_from_db()
    assert user.status == "in_process" and user.next_run_at == second + timedelta(days=1)
    job.refresh_from_db()
    assert [s.replace(tzinfo=UTC) for s in job.covered_slots] == [second]
    assert JobLogLine.objects.filter(job=job, message__contains="is covered by this run").count() == 1
    login(client, admin.user)
    card = client.get(f"/jobs/{job.pk}/card/", HTTP_HX_REQUEST="true").content.decode()
    assert "Also covers the scheduled backup of 2026-03-02 10:00 UTC" in card
    # the job ends: the user goes back to Active with its next slot still ahead; no catch-up job
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    _settle(user.pk, "scheduled", None)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_scheduler(second + timedelta(hours=3)) == []
    assert Job.objects.count() == 1 and TaskUser.objects.get(task=task).status == "active"
