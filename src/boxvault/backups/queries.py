"""Read-side helpers shared by pages, API and CLI (one place for the figures each list shows)."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet, Sum

from boxvault.backups.models import Task, TaskUser


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL: a search for one would be a 500 instead of "no match".
    return text.replace("\x00", "").strip()[:200]


def tasks_with_figures(queryset: QuerySet[Task], search: str = "") -> QuerySet[Task]:
    search = _clean(search)
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(connected_as__icontains=search))
    live = Q(users__deletion_due_at__isnull=True)
    return queryset.annotate(
        users_total=Count("users", filter=live, distinct=True),
        users_active=Count(
            "users",
            filter=live
            & Q(
                users__status__in=[
                    TaskUser.Status.ACTIVE,
                    TaskUser.Status.SCHEDULED,
                    TaskUser.Status.IN_PROCESS,
                ]
            ),
            distinct=True,
        ),
        last_backup_at=Max("users__last_backup_at"),
        storage_used=Sum("users__size"),
    )


def task_users(task: Task, *, status: str = "", search: str = "") -> QuerySet[TaskUser]:
    rows = TaskUser.objects.filter(task=task, deletion_due_at__isnull=True)
    status, search = _clean(status), _clean(search)
    if status:
        rows = rows.filter(status=status)
    if search:
        rows = rows.filter(Q(login__icontains=search) | Q(name__icontains=search))
    return rows.order_by("login", "id")
