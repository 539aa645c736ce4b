"""The one filter set for the audit trail: the page, the API and both CSV exports use it."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from boxvault.core.filters import DateRangeForm
from boxvault.security.models import AuditEvent


class AuditFilter(django_filters.FilterSet):
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="From")
    until = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="To")
    activity = django_filters.ChoiceFilter(choices=AuditEvent.Activity.choices)
    status = django_filters.ChoiceFilter(choices=AuditEvent.Status.choices)
    service = django_filters.CharFilter(lookup_expr="iexact", max_length=32)
    performed_by = django_filters.CharFilter(lookup_expr="icontains", max_length=254, label="Performed by")
    q = django_filters.CharFilter(method="search", max_length=200, label="Search")

    class Meta:
        model = AuditEvent
        fields = ["since", "until", "activity", "status", "service", "performed_by", "q"]

    def search(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        return queryset.filter(Q(description__icontains=value) | Q(task__icontains=value))


class PageAuditFilter(AuditFilter):
    """The page's and its CSV export's filters: a "To" before "From" is a message there, not an empty list.
    The API keeps the plain filter set (its schema accepts any two dates; the answer is then empty)."""

    class Meta(AuditFilter.Meta):
        form = DateRangeForm
