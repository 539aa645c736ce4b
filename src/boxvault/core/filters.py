"""Helpers shared by the filter sets of every list (one filter set serves the page, the API and the CSV)."""

from __future__ import annotations

import django_filters


def set_choices(field_filter: django_filters.Filter, choices: list[tuple[str, str]]) -> None:
    """Per-request choices. The form field is cached on the filter and the filter set deep-copies its
    class's filters, so a field built once elsewhere (the schema, browsable API) keeps stale choices."""
    field_filter.extra["choices"] = choices
    field_filter.__dict__.pop("_field", None)
