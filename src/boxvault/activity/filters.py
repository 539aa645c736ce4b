"""The one filter set for system activity: page, API and CSV."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from boxvault.activity.models import ActivityEvent
from boxvault.core.filters import DateRangeForm, LazyChoices, set_choices


class ActivityFilter(django_filters.FilterSet):
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="From")
    until = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="To")
    activity = django_filters.ChoiceFilter(choices=[])
    service = django_filters.ChoiceFilter(choices=[])
    status = django_filters.ChoiceFilter(choices=ActivityEvent.Status.choices)
    task = django_filters.ChoiceFilter(field_name="task_id", choices=[], label="Task")
    q = django_filters.CharFilter(method="search", max_length=200, label="Search")

    class Meta:
        model = ActivityEvent
        fields = ["since", "until", "activity", "service", "status", "task", "q"]

    def __init__(
        self, data: Any = None, queryset: QuerySet[ActivityEvent] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(data, queryset=queryset, **kwargs)
        base = self.queryset.order_by()
        # Choices from the caller's own (already scoped) rows: never another tenant's names.
        for name in ("activity", "service"):
            values = base.order_by(name).values_list(name, flat=True).distinct()
            set_choices(self.filters[name], LazyChoices(functools.partial(_labels, name, values)))
        tasks = (
            base.exclude(task_id=None).order_by("task_name").values_list("task_id", "task_name").distinct()
        )
        set_choices(self.filters["task"], LazyChoices(lambda: [(str(i), n or f"Task {i}") for i, n in tasks]))

    def search(self, queryset: QuerySet[ActivityEvent], name: str, value: str) -> QuerySet[ActivityEvent]:
        return queryset.filter(
            Q(item__icontains=value)
            | Q(summary__icontains=value)
            | Q(task_name__icontains=value)
            | Q(sub_service__icontains=value)
            | Q(activity__icontains=value)
        )


class PageActivityFilter(ActivityFilter):
    """The page's and its CSV export's filters: a "To" before "From" is a message there, not an empty list.
    The API keeps the plain filter set (its schema accepts any two dates; the answer is then empty)."""

    class Meta(ActivityFilter.Meta):
        form = DateRangeForm


def _labels(name: str, values: Iterable[str]) -> list[tuple[str, str]]:
    return [(v, v.capitalize() if name == "service" else v) for v in values]
