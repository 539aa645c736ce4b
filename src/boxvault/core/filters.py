"""Helpers shared by the filter sets of every list (one filter set serves the page, the API and the CSV)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import django_filters
from django import forms
from django.utils.choices import BaseChoiceIterator


class LazyChoices(BaseChoiceIterator):
    """Choices read from the database only when a form renders them or validates a value of that filter,
    and then once. The choices of a list's filters are DISTINCT scans of the tenant's rows (55 ms each
    at 100,000 jobs); an API call or a counter that does not filter by them must not pay for them."""

    def __init__(self, load: Callable[[], Iterable[tuple[str, str]]]) -> None:
        self._load: Callable[[], Iterable[tuple[str, str]]] | None = load
        self._items: list[tuple[str, str]] = []

    def _loaded(self) -> list[tuple[str, str]]:
        if self._load is not None:
            self._items, self._load = list(self._load()), None
        return self._items

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def set_choices(field_filter: django_filters.Filter, choices: Iterable[tuple[str, str]]) -> None:
    """Per-request choices. The form field is cached on the filter and the filter set deep-copies its
    class's filters, so a field built once elsewhere (the schema, browsable API) keeps stale choices."""
    field_filter.extra["choices"] = choices
    field_filter.__dict__.pop("_field", None)


class DateRangeForm(forms.Form):
    """The form of a filter set with `since`/`until`: a range that cannot match anything is a message,
    not an empty list that looks like "nothing happened"."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", f"“To” ({until}) is before “From” ({since}): nothing can match.")
        return data
