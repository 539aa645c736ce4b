"""What an account is billed for: distinct Box users with a successful (or partly successful) backup.

Decided (docs/operations.md): the billable quantity of a period is the number of distinct Box users of each
task whose backup job ended Succeeded or Partially succeeded within the period — the period's peak, not a
daily average, so a weekly schedule is not billed a seventh. It comes from the Job rows, which are the truth
whatever restarts or workers there were; a user backed up twice, or by two workers after a retry, counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count

from boxvault.jobs.models import Job

BILLED = (Job.Status.SUCCEEDED, Job.Status.PARTIALLY_SUCCEEDED)


@dataclass(frozen=True)
class Usage:
    service: str
    task_id: int
    task_name: str
    users: int


def usage(account: Any, start: datetime, end: datetime) -> list[Usage]:
    rows = (
        Job.objects.filter(
            account=account,
            kind="backup",
            status__in=BILLED,
            finished_at__gte=start,
            finished_at__lt=end,
            task_id__isnull=False,
        )
        .exclude(box_user_id="")
        .values("service", "task_id")
        .annotate(users=Count("box_user_id", distinct=True))
        .order_by("task_id")
    )
    names = dict(
        Job.objects.filter(account=account, task_id__in=[r["task_id"] for r in rows])
        .order_by("task_id", "id")  # the newest name wins
        .values_list("task_id", "task_name")
    )
    return [Usage(r["service"], r["task_id"], names.get(r["task_id"], ""), r["users"]) for r in rows]
