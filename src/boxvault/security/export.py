from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from boxvault.security.models import AuditEvent

HEADER = ["Date (UTC)", "Activity", "Service", "Status", "Task", "Performed by", "IP", "Description"]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula (CSV injection); a quote keeps it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def row(event: AuditEvent) -> list[str]:
    return [
        _cell(v)
        for v in (
            event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            event.get_activity_display(),
            event.service,
            event.get_status_display(),
            event.task,
            event.performed_by,
            event.ip,
            event.description,
        )
    ]


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in (HEADER, *(row(e) for e in events)):
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
