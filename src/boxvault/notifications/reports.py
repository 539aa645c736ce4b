"""The summary report: per task and Box user, the period's last backup run, as e-mail rows and a CSV.

"overview" lists every user of the account's tasks; "failures" only the failed and partially succeeded
ones, with the reason and the failing items. Rows come from the Job rows (the truth about every run).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps

from boxvault.jobs.models import Job

Status = Job.Status
FAILED_STATUSES = (Status.FAILED, Status.PARTIALLY_SUCCEEDED)
MAIL_ROWS = 300  # rows shown in the e-mail itself; the CSV carries them all
CSV_COLUMNS = [
    "task",
    "box_user",
    "last_run_utc",
    "status",
    "runs",
    "items",
    "bytes",
    "duration_seconds",
    "failures",
    "failed_runs",
    "reason",
    "failing_items",
]


@dataclass
class Row:
    task: str
    box_user: str
    last_run_utc: str = ""
    status: str = "No run"
    status_code: str = ""
    runs: int = 0
    items: int = 0
    bytes: int = 0
    duration_seconds: float = 0.0
    failures: int = 0
    failed_runs: int = 0  # runs of the period that failed or partly failed (the last one may be fine)
    reason: str = ""
    failing_items: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.failed_runs > 0


def _job_row(job: Job, runs: int, failures: int, failed_job: Job | None, failed_runs: int) -> Row:
    """The user's line: figures of the last run; reason and failing items of the last run that failed."""
    result = (failed_job.result if failed_job is not None else None) or {}
    failing = [
        f"{f.get('path') or f.get('item_id')}: {f.get('error', '')}"
        for f in (result.get("failures") or [])[:20]
        if isinstance(f, dict)
    ]
    result_last = job.result or {}
    return Row(
        task=job.task_name,
        box_user=job.box_user_login or job.box_user_id,
        last_run_utc=job.finished_at.strftime("%Y-%m-%d %H:%M") if job.finished_at else "",
        status=job.get_status_display(),
        status_code=job.status,
        runs=runs,
        items=int(result_last.get("files", job.items_done) or 0),
        bytes=int(result_last.get("bytes", job.bytes_done) or 0),
        duration_seconds=round(float(result_last.get("duration") or job.duration_seconds or 0.0), 1),
        failures=failures,
        failed_runs=failed_runs,
        reason=(failed_job.message or failed_job.get_status_display()) if failed_job is not None else "",
        failing_items=failing,
    )


def build_rows(account: Any, start: datetime, end: datetime) -> list[Row]:
    jobs = Job.objects.filter(
        account=account, kind=Job.Kind.BACKUP, finished_at__gte=start, finished_at__lt=end
    ).order_by("finished_at", "id")
    last: dict[tuple[int | None, str], Job] = {}
    runs: dict[tuple[int | None, str], int] = {}
    failures: dict[tuple[int | None, str], int] = {}
    last_failed: dict[tuple[int | None, str], Job] = {}
    failed_runs: dict[tuple[int | None, str], int] = {}
    for job in jobs.iterator():
        key = (job.task_id, job.box_user_id)
        last[key] = job
        runs[key] = runs.get(key, 0) + 1
        if job.status in FAILED_STATUSES:
            last_failed[key] = job
            failed_runs[key] = failed_runs.get(key, 0) + 1
        failed = int((job.result or {}).get("failed", job.items_failed) or 0)
        failures[key] = (
            failures.get(key, 0) + failed + (1 if job.status == Status.FAILED and not failed else 0)
        )
    rows = [
        _job_row(job, runs[key], failures[key], last_failed.get(key), failed_runs.get(key, 0))
        for key, job in last.items()
    ]
    if apps.is_installed("boxvault.backups"):
        # Active users that had no run in the period are worth a line too: a silent schedule is news.
        task_user = apps.get_model("backups", "TaskUser")
        active = task_user.objects.filter(
            task__account=account,
            task__deletion_due_at__isnull=True,
            status__in=["active", "scheduled", "in_process"],
        ).select_related("task")
        for user in active:
            if (user.task_id, user.box_user_id) not in last:
                rows.append(Row(task=user.task.name, box_user=user.login))
    rows.sort(key=lambda r: (r.task.lower(), r.box_user.lower()))
    return rows


def totals(rows: list[Row]) -> dict[str, Any]:
    return {
        "users": len(rows),
        "runs": sum(r.runs for r in rows),
        "succeeded": sum(1 for r in rows if r.status_code == Status.SUCCEEDED),
        "partial": sum(1 for r in rows if r.status_code == Status.PARTIALLY_SUCCEEDED),
        "failed": sum(1 for r in rows if r.status_code == Status.FAILED),
        "no_run": sum(1 for r in rows if not r.status_code),
        "items": sum(r.items for r in rows),
        "bytes": sum(r.bytes for r in rows),
        "failures": sum(r.failures for r in rows),
        "users_with_failures": sum(1 for r in rows if r.failed),
    }


def to_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                *(_safe(str(getattr(r, c))) for c in CSV_COLUMNS[:-1]),
                _safe(" | ".join(r.failing_items)),
            ]
        )
    return out.getvalue()


def _safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet (CSV injection); Box names are free text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") and not _number(value) else value


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def context(rows: list[Row], report_format: str, start: datetime, end: datetime) -> dict[str, Any]:
    shown = [r for r in rows if r.failed] if report_format == "failures" else rows
    return {
        "report_format": report_format,
        "period_start": start.strftime("%Y-%m-%d %H:%M UTC"),
        "period_end": end.strftime("%Y-%m-%d %H:%M UTC"),
        "totals": totals(rows),
        "rows": [{**asdict(r), "failed": r.failed} for r in shown[:MAIL_ROWS]],
        "more_rows": max(0, len(shown) - MAIL_ROWS),
    }
