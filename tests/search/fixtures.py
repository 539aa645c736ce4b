"""A small catalog written through the backups app's own catalog (so the search index follows its writes).

User 100 has three snapshots: s1, s2 (the budget changes: author Bob, March) and s3 (the photo is gone).
User 101 has one snapshot with a budget of its own.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

ALICE = json.dumps({"id": "11", "name": "Alice Smith", "login": "alice@corp.example"}, separators=(",", ":"))
BOB = json.dumps({"id": "12", "name": "Bob Stone", "login": "bob@corp.example"}, separators=(",", ":"))
SNAPS = {"s1": "a1" * 32, "s2": "b2" * 32, "s3": "c3" * 32, "u1": "d4" * 32}


def entry(path: str, *, author: str = ALICE, modifier: str | None = None, when: str, sha: str = "0") -> Any:
    from boxvault.box.catalog import CatalogEntry

    return CatalogEntry(
        item_id=str(zlib.crc32(path.encode())),
        item_type="folder" if "." not in path.rsplit("/", 1)[-1] else "file",
        path=path,
        name=path.rsplit("/", 1)[-1],
        sha1=sha * 40,
        size=1234,
        created_by=author,
        modified_by=modifier or author,
        created_at=when,
        modified_at=when,
        content_modified_at=when,
    )


BUDGET_V1 = entry("Finance/budget_2024.xlsx", when="2024-01-10T09:00:00-08:00", sha="1")
BUDGET_V2 = entry("Finance/budget_2024.xlsx", modifier=BOB, when="2024-03-05T16:30:00-08:00", sha="2")
REPORT = entry("Notes/quarterly report.docx", author=BOB, when="2024-02-01T10:00:00-08:00")
PHOTO = entry("Photos/café (1).jpg", when="2023-12-24T20:00:00-08:00")
FINANCE = entry("Finance", when="2023-11-01T08:00:00-07:00")
OTHER = entry("Home/budget.txt", author=BOB, when="2024-01-15T12:00:00-08:00")


@pytest.fixture
def catalog_task(make_task: Callable[..., Any]) -> Any:
    from boxvault.backups.catalog import DjangoCatalog
    from boxvault.box.catalog import SnapshotRef

    task = make_task(users=2)
    catalog = DjangoCatalog(task)

    def snap(user: str, name: str, day: int) -> SnapshotRef:
        return SnapshotRef("e1", user, SNAPS[name], datetime(2024, 4, day, tzinfo=UTC))

    catalog.record_snapshot(snap("100", "s1", 1), [FINANCE, BUDGET_V1, REPORT, PHOTO])
    catalog.record_snapshot(snap("100", "s2", 2), [FINANCE, BUDGET_V2, REPORT, PHOTO])
    catalog.record_snapshot(snap("100", "s3", 3), [FINANCE, BUDGET_V2, REPORT])
    catalog.record_snapshot(snap("101", "u1", 3), [OTHER])
    return task


def ref(task: Any, name: str) -> str:
    return f"{task.pk}:{SNAPS[name]}"
