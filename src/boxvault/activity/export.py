from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import chain

from boxvault.activity.models import ActivityEvent

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


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula (CSV injection); a quote keeps it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def row(event: ActivityEvent) -> list[str]:
    seconds = None if event.execution_seconds is None else f"{event.execution_seconds:.1f}"
    return [
        _cell(v)
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
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in chain([HEADER], (row(e) for e in events)):
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
