"""Zip export entries never escape the folder they are extracted into, whatever the names in the snapshot."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from boxvault.recovery.exporters import ZipSink
from boxvault.recovery.zipnames import entry_name

HOSTILE = [
    "../../etc/passwd",
    "/etc/passwd",
    "a/../../b",
    "..\\..\\windows\\evil.dll",
    "C:/evil.txt",
    "c:evil.txt",
    "./.././x",
    "..",
    "",
    "ok/\x00nul\x1f.txt",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_entry_names_are_relative_and_never_climb(name: str) -> None:
    safe = entry_name(name)
    parts = safe.split("/")
    assert safe and not safe.startswith("/") and "\\" not in safe
    assert ".." not in parts and "." not in parts and "" not in parts
    assert ":" not in parts[0][:2] and not any(ord(c) < 32 for c in safe)


def test_ordinary_names_are_kept() -> None:
    assert entry_name("Finance/budget 2024.xlsx") == "Finance/budget 2024.xlsx"
    assert entry_name("Notes/", directory=True) == "Notes/"
    assert entry_name("a..b/..c") == "a..b/..c"


def test_a_zip_with_hostile_names_extracts_inside_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    sink = ZipSink(str(path))
    for index, name in enumerate(HOSTILE):
        sink.add_bytes(name, f"entry {index}".encode())
    sink.close()
    target = (tmp_path / "out").resolve()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        for name in names:
            # what a naive extractor does: join the entry name to the folder as it is
            assert (target / name).resolve().is_relative_to(target), name
        assert len(names) == len(HOSTILE)
