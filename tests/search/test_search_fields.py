"""Each search field and their combinations on a small catalog (SQLite here, PostgreSQL in CI's db run)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from search.fixtures import ref

pytestmark = pytest.mark.django_db


def find(task: Any, **fields: Any) -> list[tuple[str, str | None]]:
    from boxvault.accounts.access import for_user
    from boxvault.search.services import search_items

    access = for_user(task.account.members.first().user)
    page = search_items(access, task, **fields)
    return sorted((r["path"], (r["modified_by"] or {}).get("name")) for r in page.results)


def paths(task: Any, **fields: Any) -> list[str]:
    return sorted({p for p, _ in find(task, **fields)})


def test_word_matches_names_and_folders_in_the_path(catalog_task: Any) -> None:
    assert paths(catalog_task, q="budget") == ["Finance/budget_2024.xlsx", "Home/budget.txt"]
    assert len(find(catalog_task, q="budget")) == 3  # both versions of the xlsx, and user 101's file
    assert paths(catalog_task, q="finance") == ["Finance", "Finance/budget_2024.xlsx"]
    assert paths(catalog_task, q="BUDGET xlsx") == ["Finance/budget_2024.xlsx"]
    assert paths(catalog_task, q="budg") == []  # the word field matches whole words
    assert paths(catalog_task, q="café") == ["Photos/café (1).jpg"]


def test_phrase_keeps_word_order(catalog_task: Any) -> None:
    assert paths(catalog_task, q='"quarterly report"') == ["Notes/quarterly report.docx"]
    assert paths(catalog_task, q='"report quarterly"') == []
    assert paths(catalog_task, q="“quarterly report” docx") == ["Notes/quarterly report.docx"]


def test_author_matches_creator_or_modifier_by_name_or_login(catalog_task: Any) -> None:
    assert paths(catalog_task, author="bob") == [
        "Finance/budget_2024.xlsx",
        "Home/budget.txt",
        "Notes/quarterly report.docx",
    ]
    assert find(catalog_task, author="bob", q="xlsx") == [("Finance/budget_2024.xlsx", "Bob Stone")]
    assert paths(catalog_task, author="alice@corp.example", q="jpg") == ["Photos/café (1).jpg"]
    assert paths(catalog_task, author="Smi") == paths(catalog_task, author="alice")  # prefixes of words
    assert paths(catalog_task, author="name") == []  # JSON keys are not words of anybody's name


def test_name_matches_word_prefixes_of_the_item_name_only(catalog_task: Any) -> None:
    assert paths(catalog_task, name="budg") == ["Finance/budget_2024.xlsx", "Home/budget.txt"]
    assert paths(catalog_task, name="xlsx") == ["Finance/budget_2024.xlsx"]
    assert paths(catalog_task, name="fin") == ["Finance"]  # not the files inside it
    assert paths(catalog_task, name="caf 1") == ["Photos/café (1).jpg"]


def test_date_range_on_the_modified_day_inclusive(catalog_task: Any) -> None:
    assert find(catalog_task, date_from="2024-03-05") == [("Finance/budget_2024.xlsx", "Bob Stone")]
    assert paths(catalog_task, date_from="2024-01-10", date_to="2024-01-15") == [
        "Finance/budget_2024.xlsx",
        "Home/budget.txt",
    ]
    assert paths(catalog_task, date_to="2023-12-31") == ["Finance", "Photos/café (1).jpg"]


def test_combinations_and_user_filter(catalog_task: Any) -> None:
    assert find(catalog_task, q="budget", author="alice", date_to="2024-02-01") == [
        ("Finance/budget_2024.xlsx", "Alice Smith")
    ]
    assert paths(catalog_task, q="budget", box_user_id="101") == ["Home/budget.txt"]
    assert paths(catalog_task, name="budget", author="bob", date_from="2024-01-01", box_user_id="100") == [
        "Finance/budget_2024.xlsx"
    ]
    assert paths(catalog_task, q="budget", author="nobody") == []


def test_each_version_reports_the_snapshots_that_hold_it(catalog_task: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.search.services import search_items

    access = for_user(catalog_task.account.members.first().user)
    rows = search_items(access, catalog_task, q="budget", box_user_id="100").results
    newest, oldest = rows  # newest catalog rows first
    assert oldest["modified_by"]["name"] == "Alice Smith"
    assert oldest["valid_from"]["id"] == ref(catalog_task, "s1")
    assert oldest["valid_until"]["id"] == ref(catalog_task, "s2")
    assert oldest["snapshot_count"] == 1
    assert oldest["snapshot"] == ref(catalog_task, "s1")
    assert newest["valid_from"]["id"] == ref(catalog_task, "s2")
    assert newest["valid_until"] is None
    assert [s["id"] for s in newest["held_in"]] == [ref(catalog_task, "s3"), ref(catalog_task, "s2")]
    assert newest["snapshot"] == ref(catalog_task, "s3")
    photo = search_items(access, catalog_task, q="jpg").results[0]
    assert (photo["snapshot_count"], photo["valid_until"]["id"]) == (2, ref(catalog_task, "s3"))
    assert photo["type"] == "file" and photo["size"] == 1234
    assert photo["modified_at"].startswith("2023-12-24")


def test_paging_is_stable_and_complete(catalog_task: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.search.services import search_items

    access = for_user(catalog_task.account.members.first().user)
    seen = []
    for offset in range(0, 10, 2):
        page = search_items(access, catalog_task, date_from="2000-01-01", limit=2, offset=offset)
        seen += [r["id"] for r in page.results]
        if not page.has_next:
            break
    assert len(seen) == len(set(seen)) == 6  # every catalog row once


def test_index_follows_catalog_deletes_and_rebuilds_after_losing_its_triggers(catalog_task: Any) -> None:
    from django.db import connection

    from boxvault.backups.models import CatalogVersion
    from boxvault.search import schema

    CatalogVersion.objects.filter(path="Home/budget.txt").delete()
    assert paths(catalog_task, q="budget") == ["Finance/budget_2024.xlsx"]
    with connection.cursor() as cur:  # what a table rebuild by a later migration would do
        if connection.vendor == "sqlite":
            for name in schema.SQLITE_TRIGGERS:
                cur.execute(f"DROP TRIGGER {name}")
        else:
            cur.execute(f"DROP TRIGGER {schema.PG_TRIGGER_NAME} ON {schema.CATALOG}")
        cur.execute("DELETE FROM search_doc")
    schema.ensure(connection)
    assert paths(catalog_task, q="budget") == ["Finance/budget_2024.xlsx"]
    assert paths(catalog_task, author="bob") == ["Finance/budget_2024.xlsx", "Notes/quarterly report.docx"]
    catalog_task.delete()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM search_doc")
        assert cur.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_catalog_table_can_be_altered_by_a_later_migration(catalog_task: Any) -> None:
    """A later backups migration may remake the catalog table (SQLite: create, copy, drop, rename): nothing
    of ours may block it, and the index comes back afterwards (post_migrate calls ensure())."""
    from django.db import connection, models

    from boxvault.backups.catalog import DjangoCatalog
    from boxvault.backups.models import CatalogVersion
    from boxvault.box.catalog import SnapshotRef
    from boxvault.search import schema
    from search.fixtures import entry

    old = CatalogVersion._meta.get_field("name")
    wider = models.CharField(max_length=2048)
    wider.set_attributes_from_name("name")
    wider.model = CatalogVersion
    with connection.schema_editor() as editor:
        editor.alter_field(CatalogVersion, old, wider)
    try:
        schema.ensure(connection)
        assert paths(catalog_task, q="budget") == ["Finance/budget_2024.xlsx", "Home/budget.txt"]
        later = SnapshotRef("e1", "101", "e5" * 32, datetime(2024, 5, 1, tzinfo=UTC))
        DjangoCatalog(catalog_task).record_snapshot(later, [entry("Home/budget v2.txt", when="2024-05-01")])
        assert paths(catalog_task, q="budget", box_user_id="101") == ["Home/budget v2.txt", "Home/budget.txt"]
    finally:
        with connection.schema_editor() as editor:
            editor.alter_field(CatalogVersion, wider, old)
        schema.ensure(connection)
