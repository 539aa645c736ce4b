from __future__ import annotations

from collections.abc import Iterable, Iterator

from boxvault.activity.models import ActivityEvent
from boxvault.core import csvexport

HEADER = [
    "Date (UTC)",
    "Activity",
    "Service",
    "Sub-service",
    "Status",
    "Task",
    "Item",
    "Execution time (s)",
    "Stored size (bytes)",
    "Size (bytes)",
    "Items",
    "Performed by",
    "Summary",
]


def row(event: ActivityEvent) -> list[str]:
    seconds = None if event.execution_seconds is None else f"{event.execution_seconds:.1f}"
    return [
        csvexport.cell(v)
        for v in (
            event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            event.activity,
            event.service,
            event.sub_service,
            event.get_status_display(),
            event.task_name,
            event.item,
            seconds,
            event.stored_bytes,
            event.size_bytes,
            event.items_count,
            event.performed_by,
            event.summary,
        )
    ]


def csv_lines(events: Iterable[ActivityEvent]) -> Iterator[str]:
    return csvexport.csv_lines(HEADER, (row(x) for x in events))
