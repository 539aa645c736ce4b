from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from boxvault.core.access import requires
from boxvault.core.operations import Operation
from boxvault.security.export import csv_lines
from boxvault.security.filters import PageAuditFilter
from boxvault.security.models import AuditEvent


def _filtered(request: HttpRequest) -> PageAuditFilter:
    queryset = request.access.restrict(AuditEvent.objects.all())  # type: ignore[attr-defined]
    return PageAuditFilter(request.GET, queryset=queryset)


@requires(Operation.VIEW_ACTIVITY)
def audit(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    events = filterset.qs if filterset.is_valid() else AuditEvent.objects.none()
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "security/audit.html",
        {
            "filter": filterset,
            "page": page,
            "query": query.urlencode(),
        },
    )


@requires(Operation.VIEW_ACTIVITY)
def audit_csv(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    if not filterset.is_valid():
        return HttpResponse(
            "Invalid filter: " + filterset.errors.as_text(), status=400, content_type="text/plain"
        )
    response = StreamingHttpResponse(csv_lines(filterset.qs.iterator()), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="security-audit.csv"'
    return response
