"""Writing activity rows. Callers run inside their own transaction, so a row commits with the change it
describes (a finished job, a cancel)."""

from __future__ import annotations

from typing import Any

from boxvault.activity.models import ActivityEvent
from boxvault.core import clock

_STATUSES = set(ActivityEvent.Status.values)


def record_activity(
    account: Any,
    activity: str,
    *,
    status: str = ActivityEvent.Status.INFO,
    service: str = "box",
    sub_service: str = "",
    task_id: int | None = None,
    task_name: str = "",
    item: str = "",
    execution_seconds: float | None = None,
    size_bytes: int | None = None,
    stored_bytes: int | None = None,
    items_count: int | None = None,
    summary: str = "",
    job: Any = None,
    actor: Any = None,
) -> ActivityEvent:
    return ActivityEvent.objects.create(
        account=account,
        created_at=clock.now(),
        activity=activity[:64],
        status=status if status in _STATUSES else ActivityEvent.Status.INFO,
        service=service[:32],
        sub_service=sub_service[:64],
        task_id=task_id,
        task_name=task_name[:200],
        item=item[:500],
        execution_seconds=execution_seconds,
        size_bytes=size_bytes,
        stored_bytes=stored_bytes,
        items_count=items_count,
        summary=summary[:5000],
        performed_by=getattr(actor, "email", "") or "system",
        job=job if getattr(job, "pk", None) else None,
    )
