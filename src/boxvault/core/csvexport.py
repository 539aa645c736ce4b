"""CSV exports shared by the Activity, Security and Jobs pages.

Every cell goes through `cell()`: a spreadsheet runs a cell that starts like a formula (`=`, `+`, `-`, `@`,
or a tab/CR that some spreadsheets strip before looking), which a tenant could plant in a Box file name or a
job message (CSV injection). A leading apostrophe keeps such a cell text. Leading spaces are looked through
too, because several spreadsheets trim them before parsing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """The text of one CSV cell, neutralised when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.lstrip(" ")[:1] in FORMULA_STARTS or text[:1] in FORMULA_STARTS else text


def csv_lines(header: Sequence[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV text line by line (for a streaming response), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([cell(v) for v in header])
    yield buffer.getvalue()
    for values in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell(v) for v in values])
        yield buffer.getvalue()
