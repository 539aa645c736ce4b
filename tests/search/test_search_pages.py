"""The "Via item search" tab: form and results, permissions, and the hand-over to the recovery dialog."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from portal.fixtures import login
from search.fixtures import ref

pytestmark = pytest.mark.django_db


def page_url(task: Any, user: str = "100") -> str:
    return reverse("search:items", args=[task.pk, user])


def test_fragment_lists_versions_with_selectable_refs(client: Any, admin: Any, catalog_task: Any) -> None:
    login(client, admin.user)
    response = client.get(page_url(catalog_task), {"author": "bob"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a fragment for the recovery page's tab
    assert f'value="{ref(catalog_task, "s3")}|Finance/budget_2024.xlsx"' in html
    assert f'value="{ref(catalog_task, "s3")}|Notes/quarterly report.docx"' in html
    assert "Home/budget.txt" not in html  # another Box user's item
    assert "Bob Stone" in html and "2 snapshots" in html
    assert 'id="search-restore"' in html and 'id="search-zip"' in html


def test_full_page_without_htmx_and_errors_shown(client: Any, admin: Any, catalog_task: Any) -> None:
    login(client, admin.user)
    empty = client.get(page_url(catalog_task))
    assert empty.status_code == 200 and "<html" in empty.content.decode()
    assert 'id="search-results"' not in empty.content.decode()
    bad = client.get(page_url(catalog_task), {"from": "2024-99-01"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.content.decode()
    assert client.get(page_url(catalog_task, "999")).status_code == 404


def test_page_permissions(client: Any, restricted: Any, outsider: Any, catalog_task: Any) -> None:
    assert client.get(page_url(catalog_task), {"q": "budget"}).status_code == 302  # to sign-in
    login(client, restricted.user)
    assert client.get(page_url(catalog_task), {"q": "budget"}).status_code == 403
    login(client, outsider.user)
    assert client.get(page_url(catalog_task), {"q": "budget"}).status_code == 404


def test_selection_goes_to_the_recovery_dialog_of_its_snapshot(
    client: Any, admin: Any, catalog_task: Any
) -> None:
    login(client, admin.user)
    s3 = ref(catalog_task, "s3")
    items = [f"{s3}|Finance/budget_2024.xlsx", f"{s3}|Notes/quarterly report.docx"]
    response = client.get(reverse("search:select"), {"item": items, "action": "zip"})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == reverse("recovery:act", args=[s3])
    assert parse_qs(target.query) == {
        "action": ["zip"],
        "paths": ["Finance/budget_2024.xlsx", "Notes/quarterly report.docx"],
    }
    mixed = [*items, f"{ref(catalog_task, 's1')}|Finance/budget_2024.xlsx"]
    several = client.get(reverse("search:select"), {"item": mixed, "action": "restore"})
    assert several.status_code == 200
    assert several.content.decode().count(reverse("recovery:act", args=[s3])) == 1
    assert reverse("recovery:act", args=[ref(catalog_task, "s1")]) in several.content.decode()
    assert client.get(reverse("search:select"), {"action": "restore"}).status_code == 400
    assert client.get(reverse("search:select"), {"item": items, "action": "rm"}).status_code == 400


@pytest.mark.parametrize("item", ["a/b|x", "1:abc/def0123|x", "../1|x", "1:zz|x"])
def test_a_hand_made_ref_is_a_clear_400(client: Any, admin: Any, item: str) -> None:
    # "/recovery/search/select/?action=zip&item=a/b|x" answered 500 (NoReverseMatch).
    login(client, admin.user)
    response = client.get(reverse("search:select"), {"item": item, "action": "zip"})
    assert response.status_code == 400
    assert "&lt;task id&gt;:&lt;snapshot id&gt;|&lt;path&gt;" in response.content.decode()
