"""GET /api/v1/tasks/{id}/search/: permissions, tenant isolation, paging, and bad input answered 400."""

from __future__ import annotations

from typing import Any

import pytest

from portal.fixtures import login
from search.fixtures import ref

pytestmark = pytest.mark.django_db


def url(task: Any) -> str:
    return f"/api/v1/tasks/{task.pk}/search/"


def test_administrator_gets_paged_json(client: Any, admin: Any, catalog_task: Any) -> None:
    login(client, admin.user)
    first = client.get(url(catalog_task), {"q": "budget", "page_size": 2})
    assert first.status_code == 200, first.content
    body = first.json()
    assert [r["path"] for r in body["results"]] == ["Home/budget.txt", "Finance/budget_2024.xlsx"]
    assert body["previous"] is None and "page=2" in body["next"]
    second = client.get(body["next"]).json()
    assert [r["path"] for r in second["results"]] == ["Finance/budget_2024.xlsx"]
    assert second["next"] is None and second["previous"]
    row = second["results"][0]
    assert row["snapshot"] == ref(catalog_task, "s1") and row["valid_until"]["id"] == ref(catalog_task, "s2")
    for field in ("type", "name", "path", "size", "modified_at", "author", "held_in", "snapshot_count"):
        assert field in row
    fields = {
        "author": "bob",
        "name": "quart",
        "from": "2024-02-01",
        "to": "2024-02-01",
        "box_user_id": "100",
    }
    only = client.get(url(catalog_task), fields).json()["results"]
    assert [r["path"] for r in only] == ["Notes/quarterly report.docx"]


def test_api_token_works(client: Any, admin: Any, catalog_task: Any) -> None:
    from boxvault.api.tokens import create_token

    _, key = create_token(admin.user, "search script")
    response = client.get(url(catalog_task), {"q": "budget"}, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def test_member_without_preview_is_refused(client: Any, restricted: Any, catalog_task: Any) -> None:
    login(client, restricted.user)
    response = client.get(url(catalog_task), {"q": "budget"})
    assert response.status_code == 403
    assert b"budget" not in response.content


def test_other_tenant_gets_404_and_anonymous_is_refused(
    client: Any, outsider: Any, catalog_task: Any
) -> None:
    assert client.get(url(catalog_task), {"q": "budget"}).status_code in (401, 403)
    login(client, outsider.user)
    response = client.get(url(catalog_task), {"q": "budget"})
    assert response.status_code == 404
    assert b"budget" not in response.content


def test_tasks_without_search_indexing_say_so(client: Any, admin: Any, catalog_task: Any) -> None:
    catalog_task.index_for_search = False
    catalog_task.save()
    login(client, admin.user)
    response = client.get(url(catalog_task), {"q": "budget"})
    assert response.status_code == 400
    assert "Index all data for Search" in response.json()["detail"]


ESCAPED = [
    ('"budget', 3),  # unbalanced quote: the rest is a phrase
    ("budget*", 3),
    ("budget NEAR", 0),  # NEAR is a plain word, found nowhere
    ("NEAR(budget xlsx)", 0),
    ("-budget", 3),
    ("budget -xlsx", 2),  # '-' separates words: budget AND xlsx (both versions)
    ("(((budget", 3),
    ("budget)", 3),
    ("budget OR xlsx", 0),
    ("words : budget", 0),
    ("budget & xlsx | !txt <-> :*", 0),
    ("budget^", 3),
    ("budget'; DROP TABLE search_doc; --", 0),
    ("{budget}", 3),
]


@pytest.mark.parametrize(("q", "count"), ESCAPED)
def test_query_syntax_is_escaped(client: Any, admin: Any, catalog_task: Any, q: str, count: int) -> None:
    login(client, admin.user)
    response = client.get(url(catalog_task), {"q": q})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == count


BAD = [
    ({"q": "x" * 201}, "200 characters"),
    ({"q": '"*" ()'}, "no letters or digits"),
    ({"author": "@@"}, "no letters or digits"),
    ({"from": "2024-13-01"}, "YYYY-MM-DD"),
    ({"to": "yesterday"}, "YYYY-MM-DD"),
    ({"from": "2024-02-02", "to": "2024-02-01"}, "before"),
    ({}, "enter a word"),
    ({"q": "budget", "page": "abc"}, "whole number"),
    ({"q": "budget", "page": "0"}, "start at 1"),
    ({"q": "budget", "page_size": "500"}, "page size"),
    ({"q": "budget", "page": "9999"}, "narrow the search"),
    ({"q": "budget", "box_user_id": "1 OR 1=1"}, "digits"),
    ({"q": " ".join(["w"] * 17)}, "at most"),
]


@pytest.mark.parametrize(("params", "message"), BAD)
def test_bad_input_is_a_clear_400(
    client: Any, admin: Any, catalog_task: Any, params: dict[str, str], message: str
) -> None:
    login(client, admin.user)
    response = client.get(url(catalog_task), params)
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]


def test_nul_and_odd_unicode_never_500(client: Any, admin: Any, catalog_task: Any) -> None:
    login(client, admin.user)
    for q in ("bud\x00get", "𝔟𝔲𝔡𝔤𝔢𝔱", "ﬁle", "١٢٣", "a\u0301"):
        response = client.get(url(catalog_task), {"q": q, "author": q, "name": q})
        assert response.status_code in (200, 400), (q, response.content)
    raw = client.get(url(catalog_task) + "?q=%ff%fe%00&author=%c3")  # not UTF-8 at all
    assert raw.status_code in (200, 400), raw.content


def test_listed_in_the_api_schema(client: Any, db: Any) -> None:
    operation = client.get("/api/schema/?format=json").json()["paths"]["/api/v1/tasks/{task_id}/search/"][
        "get"
    ]
    assert {"q", "author", "name", "from", "to", "page"} <= {p["name"] for p in operation["parameters"]}
