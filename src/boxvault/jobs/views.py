from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from boxvault.core.access import requires
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation
from boxvault.jobs import services
from boxvault.jobs.export import csv_lines
from boxvault.jobs.filters import JobFilter, PageJobFilter
from boxvault.jobs.models import Job
from boxvault.jobs.queries import STATUS_COUNTS, job_for, status_counts, visible_jobs

PAGE_DAYS = 7


def _page_filter(request: HttpRequest) -> JobFilter:
    data = request.GET.copy()
    # The page shows the last week unless the visitor asks for another period.
    if not any(data.get(k) for k in ("days", "since", "until")):
        data["days"] = str(PAGE_DAYS)
    return PageJobFilter(data, queryset=visible_jobs(request.access))  # type: ignore[attr-defined]


def _card_context(request: HttpRequest, job: Job) -> dict[str, Any]:
    return {"job": job, "can_cancel": request.access.can(Operation.CANCEL_TASKS)}  # type: ignore[attr-defined]


@requires(Operation.VIEW_TASKS)
def job_list(request: HttpRequest) -> HttpResponse:
    filterset = _page_filter(request)
    jobs = filterset.qs if filterset.is_valid() else Job.objects.none()
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    without_status = query.copy()
    without_status.pop("status", None)
    week = JobFilter({"days": str(PAGE_DAYS)}, queryset=visible_jobs(request.access)).qs  # type: ignore[attr-defined]
    counts = status_counts(week)
    return render(
        request,
        "jobs/list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query.urlencode(),
            "status_links": [
                (key, label, counts[key], request.GET.get("status") == key) for key, label in STATUS_COUNTS
            ],
            "without_status": without_status.urlencode(),
            # while jobs are pending or running the counters refresh like the cards do
            "counts_live": bool(counts["pending"] or counts["in_progress"]),
            "can_cancel": request.access.can(Operation.CANCEL_TASKS),  # type: ignore[attr-defined]
        },
    )


@requires(Operation.VIEW_TASKS)
def job_card(request: HttpRequest, pk: int) -> HttpResponse:
    """One card, polled by htmx while the job runs."""
    job = job_for(request.access, pk)  # type: ignore[attr-defined]
    return render(request, "jobs/_card.html", _card_context(request, job))


@requires(Operation.VIEW_TASKS)
def job_log(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_for(request.access, pk)  # type: ignore[attr-defined]
    lines = Paginator(job.log.all(), 500).get_page(request.GET.get("page"))
    return render(request, "jobs/log.html", {"job": job, "lines": lines})


@require_POST
@requires(Operation.CANCEL_TASKS)
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_for(request.access, pk)  # type: ignore[attr-defined]
    try:
        job = services.cancel(request.access, job, request=request)  # type: ignore[attr-defined]
    except ServiceError as exc:
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "jobs/_card.html", {**_card_context(request, job), "error": str(exc)})
        messages.error(request, str(exc))
        return redirect("jobs:list")
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "jobs/_card.html", _card_context(request, job))
    messages.success(request, f"Cancel requested for job {job.pk}.")
    return redirect("jobs:list")


@requires(Operation.VIEW_TASKS)
def job_csv(request: HttpRequest) -> HttpResponse:
    filterset = PageJobFilter(request.GET, queryset=visible_jobs(request.access))  # type: ignore[attr-defined]
    if not filterset.is_valid():
        return HttpResponse(
            "Invalid filter: " + filterset.errors.as_text(), status=400, content_type="text/plain"
        )
    response = StreamingHttpResponse(csv_lines(filterset.qs.iterator()), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="jobs.csv"'
    return response
