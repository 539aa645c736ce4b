"""The one CSV helper every export uses: formula cells come out as text."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import boxvault
from boxvault.core.csvexport import cell, csv_lines


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "  =HYPERLINK(1)"])
def test_formula_starts_are_quoted(text: str) -> None:
    assert cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "", None, 12, "a=b", "x-1"])
def test_other_cells_are_untouched(value: object) -> None:
    assert cell(value) == ("" if value is None else str(value))


def test_csv_lines_round_trips_and_neutralises() -> None:
    text = "".join(csv_lines(["A", "B"], [["=cmd|' /C calc'!A0", 'say "hi"\nthere'], [None, 3]]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["A", "B"], ["'=cmd|' /C calc'!A0", 'say "hi"\nthere'], ["", "3"]]


def test_every_csv_export_uses_the_shared_helper() -> None:
    # One rule for the three exports: none of them writes CSV by itself any more.
    root = Path(boxvault.__file__).parent
    for app in ("activity", "security", "jobs"):
        source = (root / app / "export.py").read_text(encoding="utf-8")
        assert "csvexport" in source and "csv.writer" not in source, app
