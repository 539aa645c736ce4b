"""Helpers shared by the filter sets of every list (one filter set serves the page, the API and the CSV)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms


def set_choices(field_filter: django_filters.Filter, choices: list[tuple[str, str]]) -> None:
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
