"""Which jobs a member sees: their account's, for the services they may use."""

from __future__ import annotations

from django.db.models import QuerySet

from boxvault.accounts.access import Access, get_for, scoped
from boxvault.jobs.models import Job


def visible_jobs(access: Access) -> QuerySet[Job]:
    jobs = scoped(access, Job.objects.select_related("account"))
    if not access.member.is_admin:
        jobs = jobs.filter(service__in=list(access.member.services or []))
    return jobs


def job_for(access: Access, pk: object) -> Job:
    """Another tenant's job, or one of a service the member may not use, is not found (404)."""
    return get_for(access, visible_jobs(access), pk=pk)


STATUS_COUNTS = [
    ("pending", "Pending"),  # queued jobs count too: they were nowhere on the page
    ("in_progress", "In progress"),
    ("succeeded", "Succeeded"),
    ("partially_succeeded", "Partially succeeded"),
    ("failed", "Failed"),
]


def status_counts(jobs: QuerySet[Job]) -> dict[str, int]:
    from django.db.models import Count

    counts = dict(jobs.order_by().values_list("status").annotate(n=Count("id")))
    return {key: counts.get(key, 0) for key, _ in STATUS_COUNTS}
