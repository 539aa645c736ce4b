from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import chain

from boxvault.jobs.models import Job

HEADER = [
    "Id",
    "Type",
    "Status",
    "Initiator",
    "Service",
    "Task",
    "Box user",
    "Started (UTC)",
    "Finished (UTC)",
    "Items",
    "Items failed",
    "Bytes",
    "Destination",
    "Message",
]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula (CSV injection); a quote keeps it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""  # type: ignore[attr-defined]


def row(job: Job) -> list[str]:
    return [
        _cell(v)
        for v in (
            job.pk,
            job.kind_label,
            job.get_status_display(),
            job.initiator_label,
            job.service,
            job.task_name,
            job.box_user_login or job.box_user_id,
            _when(job.started_at),
            _when(job.finished_at),
            job.items_done,
            job.items_failed,
            job.bytes_done,
            job.destination,
            job.message,
        )
    ]


def csv_lines(jobs: Iterable[Job]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in chain([HEADER], (row(j) for j in jobs)):
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
