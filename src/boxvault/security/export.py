from __future__ import annotations

from collections.abc import Iterable, Iterator

from boxvault.core import csvexport
from boxvault.security.models import AuditEvent

HEADER = ["Date (UTC)", "Activity", "Service", "Status", "Task", "Performed by", "IP", "Description"]


def row(event: AuditEvent) -> list[str]:
    return [
        csvexport.cell(v)
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
    return csvexport.csv_lines(HEADER, (row(x) for x in events))
