"""`boxvault recovery search` (the search command, in-process against the test database)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from search.fixtures import ref

pytestmark = pytest.mark.django_db


def call(*args: str) -> Any:
    from boxvault.search.cli import app

    return CliRunner().invoke(app, ["search", *args], catch_exceptions=False)


def test_cli_search_json_and_text(admin: Any, catalog_task: Any, tmp_path: Any) -> None:
    base = ["--task", str(catalog_task.pk), "--email", admin.user.email, "--data", str(tmp_path)]
    found = call(*base, "--q", "budget", "--author", "bob", "--json")
    assert found.exit_code == 0, found.output
    doc = json.loads(found.output)
    assert [(r["path"], r["snapshot"]) for r in doc["results"]] == [
        ("Home/budget.txt", ref(catalog_task, "u1")),
        ("Finance/budget_2024.xlsx", ref(catalog_task, "s3")),
    ]
    text = call(*base, "--name", "quart", "--page-size", "1")
    assert text.exit_code == 0 and "Notes/quarterly report.docx" in text.output
    assert ref(catalog_task, "s3") in text.output


def test_cli_refusals_have_exit_codes(
    admin: Any, restricted: Any, outsider: Any, catalog_task: Any, tmp_path: Any
) -> None:
    task = ["--task", str(catalog_task.pk), "--data", str(tmp_path)]
    bad = call(*task, "--email", admin.user.email, "--from", "someday")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    assert call(*task, "--email", outsider.user.email, "--q", "budget").exit_code == 3
    assert call(*task, "--email", "nobody@x.example", "--q", "budget").exit_code == 3
    refused = call(*task, "--email", restricted.user.email, "--q", "budget")
    assert refused.exit_code == 4 and "budget" not in refused.output
