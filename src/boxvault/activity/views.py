from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from boxvault.accounts.access import scoped
from boxvault.activity.export import csv_lines
from boxvault.activity.filters import PageActivityFilter
from boxvault.activity.models import ActivityEvent
from boxvault.activity.plots import plots
from boxvault.core.access import requires
from boxvault.core.operations import Operation


def _filtered(request: HttpRequest) -> PageActivityFilter:
    queryset = scoped(request.access, ActivityEvent.objects.all())  # type: ignore[attr-defined]
    return PageActivityFilter(request.GET, queryset=queryset)


@requires(Operation.VIEW_ACTIVITY)
def activity_list(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    events = filterset.qs if filterset.is_valid() else ActivityEvent.objects.none()
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "activity/list.html",
        {"filter": filterset, "page": page, "query": query.urlencode(), "plots": plots(events)},
    )


@requires(Operation.VIEW_ACTIVITY)
def activity_csv(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    if not filterset.is_valid():
        return HttpResponse(
            "Invalid filter: " + filterset.errors.as_text(), status=400, content_type="text/plain"
        )
    response = StreamingHttpResponse(csv_lines(filterset.qs.iterator()), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="system-activity.csv"'
    return response
