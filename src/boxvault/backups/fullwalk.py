"""What a run that listed a user's whole Box reports (docs/box.md, "Scheduled full walk").

Every `Task.full_walk_days` a user's run lists everything instead of following Box's events, and compares
what it found with what the events path would have stored. The count of divergent items goes into the
job log and into System Activity, where an operator reads it: above zero it is a bug report (the snapshot
itself is already healed: it holds what the full walk found).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from boxvault.activity.models import ActivityEvent
from boxvault.activity.services import record_activity
from boxvault.box.report import UserReport

ACTIVITY = "Full walk check"
LOGGED_ITEMS = 20


def report_run(task: Any, login: str, ur: UserReport, reporter: Any) -> None:
    """Job log lines (and, for a compared full walk, an activity row) for one user's run."""
    if ur.relocated:
        reporter.log(
            f"{ur.relocated} item(s) moved while they were listed: each kept once, where Box shows it now"
        )
    if ur.vanished:
        reporter.log(f"{ur.vanished} file(s) trashed or deleted while the run went on: not stored")
    if not ur.full_walk or not ur.snapshot_id:
        return
    if ur.divergent is None:
        reporter.log("Full walk: every folder listed (nothing to compare with: no usable previous run)")
        return
    count = ur.divergent
    level = "warning" if count else "info"
    reporter.log(
        f"Full walk: {count} item(s) differ from what the incremental path would have stored"
        + (" (healed in this snapshot; please report it)" if count else ""),
        level=level,
    )
    for item in ur.divergent_items[:LOGGED_ITEMS]:
        reporter.log(
            f"  divergent {item['type']} {item['item_id']}: full walk {item['path'] or '(absent)'}"
            f" sha1 {item['sha1'] or '-'}; incremental {item['incremental_path'] or '(absent)'}"
            f" sha1 {item['incremental_sha1'] or '-'}",
            level=level,
        )
    with transaction.atomic():
        record_activity(
            task.account,
            ACTIVITY,
            status=ActivityEvent.Status.INFO if count == 0 else ActivityEvent.Status.PARTIALLY_SUCCEEDED,
            task_id=task.pk,
            task_name=task.name,
            item=login,
            items_count=count,
            summary=f"{count} divergent item(s) between the full walk and the incremental path",
            job=getattr(reporter, "job", None),
        )
