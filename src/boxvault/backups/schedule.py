"""When each active user is backed up, and how the scheduler claims the users that are due.

Slots are fixed points in time: `hour_utc` o'clock on the days the frequency picks (every day; every third
day and every seventh day counted from 2000-01-01, so every scheduler computes the same slots). A user's
`next_run_at` is the next slot; a scheduler claims a due user by moving `next_run_at` to the slot after *now*
with a conditional UPDATE that only succeeds if nobody moved it first. So two schedulers never both claim
one slot, and slots missed while the server was down collapse into one run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from boxvault.backups.models import Task, TaskUser

PERIOD_DAYS = {Task.Frequency.DAILY: 1, Task.Frequency.EVERY_3_DAYS: 3, Task.Frequency.WEEKLY: 7}
_EPOCH = date(2000, 1, 1)
# Users whose runs the scheduler starts; Paused, Not Active, Archived... are left alone.
SCHEDULABLE = (TaskUser.Status.ACTIVE, TaskUser.Status.SCHEDULED)


def next_slot(frequency: str, hour_utc: int, after: datetime) -> datetime:
    """The first slot strictly after `after` (an aware datetime)."""
    period = PERIOD_DAYS[Task.Frequency(frequency)]
    if not 0 <= hour_utc <= 23:
        raise ValueError("hour_utc must be 0..23")
    after = after.astimezone(UTC)
    day = after.date()
    offset = (day - _EPOCH).days % period
    if offset:
        day += timedelta(days=period - offset)
    slot = datetime.combine(day, time(hour_utc), tzinfo=UTC)
    while slot <= after:
        slot += timedelta(days=period)
    return slot


def due(now: datetime) -> QuerySet[TaskUser]:
    users = TaskUser.objects.filter(
        next_run_at__lte=now,
        status__in=SCHEDULABLE,
        deletion_due_at__isnull=True,
        task__deletion_due_at__isnull=True,
        task__status=Task.Status.CONNECTED,
        task__account__removal_due_at__isnull=True,
    ).select_related("task")
    if settings.BOXVAULT_BILLING:  # an account billing made read-only takes no new backups
        users = users.exclude(task__account__billing__read_only_since__isnull=False)
    return users


def claim(user: TaskUser, now: datetime) -> bool:
    """Take one due user for a run: True for exactly one caller per slot."""
    return (
        TaskUser.objects.filter(pk=user.pk, next_run_at=user.next_run_at, status__in=SCHEDULABLE).update(
            next_run_at=next_slot(user.task.frequency, user.task.hour_utc, now),
            status=TaskUser.Status.IN_PROCESS,
            running_since=now,
        )
        == 1
    )


def tick(now: datetime, start: Callable[[TaskUser], object], limit: int = 500) -> list[int]:
    """Claim every due user (up to `limit`) and `start` a run for each; returns the claimed ids.

    Claim and start share a transaction: a failed start (the queue) leaves the slot unclaimed."""
    claimed: list[int] = []
    for user in due(now).order_by("next_run_at", "id")[:limit]:
        with transaction.atomic():
            if claim(user, now):
                start(user)
                claimed.append(user.pk)
    return claimed
