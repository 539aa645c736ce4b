from __future__ import annotations

from collections.abc import Iterable, Iterator

from boxvault.core import csvexport
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


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""  # type: ignore[attr-defined]


def row(job: Job) -> list[str]:
    return [
        csvexport.cell(v)
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
    return csvexport.csv_lines(HEADER, (row(x) for x in jobs))
