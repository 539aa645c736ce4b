"""The one filter set for jobs: the page, the API and the CSV export use it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from boxvault.core import clock
from boxvault.core.filters import DateRangeForm, LazyChoices, set_choices
from boxvault.core.operations import SERVICES
from boxvault.jobs.models import Job

SORTS = [("latest", "Latest first"), ("oldest", "Oldest first")]
# The search's substring matches; each has a trigram index on PostgreSQL (jobs migration 0003, which keeps
# its own copy of this list, as migrations must).
SEARCHED = ("task_name", "box_user_login", "destination", "message", "initiator_label")


class JobFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Job.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Job.Kind.choices, label="Activity")
    service = django_filters.ChoiceFilter(choices=list(SERVICES.items()))
    task = django_filters.ChoiceFilter(field_name="task_id", choices=[], label="Task")
    initiator = django_filters.ChoiceFilter(field_name="initiator_label", choices=[], label="Initiator")
    box_user = django_filters.CharFilter(method="by_box_user", max_length=254, label="Box user")
    days = django_filters.NumberFilter(method="last_days", min_value=1, max_value=3660, label="Last days")
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="From")
    until = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="To")
    q = django_filters.CharFilter(method="search", max_length=200, label="Search")
    sort = django_filters.ChoiceFilter(choices=SORTS, method="sort_by", empty_label=None, label="Order")

    class Meta:
        model = Job
        fields = [
            "status",
            "kind",
            "service",
            "task",
            "initiator",
            "box_user",
            "days",
            "since",
            "until",
            "q",
            "sort",
        ]

    def __init__(self, data: Any = None, queryset: QuerySet[Job] | None = None, **kwargs: Any) -> None:
        super().__init__(data, queryset=queryset, **kwargs)
        base = self.queryset
        # Choices come from the caller's own (already scoped) jobs: never another tenant's names.
        tasks = (
            base.exclude(task_id=None).order_by("task_name").values_list("task_id", "task_name").distinct()
        )
        set_choices(self.filters["task"], LazyChoices(lambda: [(str(i), n or f"Task {i}") for i, n in tasks]))
        people = base.order_by("initiator_label").values_list("initiator_label", flat=True).distinct()
        set_choices(self.filters["initiator"], LazyChoices(lambda: [(p, p) for p in people]))

    def by_box_user(self, queryset: QuerySet[Job], name: str, value: str) -> QuerySet[Job]:
        return queryset.filter(Q(box_user_id=value) | Q(box_user_login__iexact=value))

    def last_days(self, queryset: QuerySet[Job], name: str, value: Any) -> QuerySet[Job]:
        return queryset.filter(created_at__gte=clock.now() - timedelta(days=int(value)))

    def search(self, queryset: QuerySet[Job], name: str, value: str) -> QuerySet[Job]:
        # With an index for every arm, PostgreSQL ORs bitmaps instead of reading every job of the tenant.
        match = Q(box_user_id=value)
        for column in SEARCHED:
            match |= Q(**{f"{column}__icontains": value})
        # the activity as the page names it ("Restore", "Export"): matched here, an indexed IN below
        needle = value.casefold()
        kinds = [k for k, label in Job.Kind.choices if needle in f"{k} {label}".casefold()]
        if kinds:
            match |= Q(kind__in=kinds)
        if value.isdigit():
            match |= Q(pk=int(value))
        return queryset.filter(match)

    def sort_by(self, queryset: QuerySet[Job], name: str, value: str) -> QuerySet[Job]:
        return (
            queryset.order_by("created_at", "id")
            if value == "oldest"
            else queryset.order_by("-created_at", "-id")
        )


class PageJobFilter(JobFilter):
    """The page's and its CSV export's filters: a "To" before "From" is a message there, not an empty list.
    The API keeps the plain filter set (its schema accepts any two dates; the answer is then empty)."""

    class Meta(JobFilter.Meta):
        form = DateRangeForm
