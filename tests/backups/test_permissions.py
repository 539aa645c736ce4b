"""Every backup-task page and endpoint with an administrator, a restricted member and an outsider.

The restricted member (view settings and support only) gets 403; the outsider (another tenant's
administrator) gets 404 for Acme's task ids and only their own (empty) data elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest

ADMIN, RESTRICTED, OUTSIDER = "admin", "restricted", "outsider"

PAGES = [
    ("get", "/", {ADMIN: 200, RESTRICTED: 200, OUTSIDER: 200}),
    ("get", "/tasks/new/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("post", "/tasks/new/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 302}),
    ("get", "/tasks/oauth/callback/?state=x&code=y", {ADMIN: 302, RESTRICTED: 302, OUTSIDER: 302}),
    ("get", "/tasks/{task}/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/tasks/{task}/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/tasks/{task}/connect/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
    ("get", "/tasks/{task}/delete/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/tasks/{task}/delete/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
    ("get", "/tasks/{task}/users/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/tasks/{task}/users/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/tasks/{task}/users/refresh/", {ADMIN: 302, RESTRICTED: 403, OUTSIDER: 404}),
]
API = [
    ("get", "/api/v1/tasks/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 200}),
    ("post", "/api/v1/tasks/", {ADMIN: 400, RESTRICTED: 403, OUTSIDER: 400}),
    ("get", "/api/v1/tasks/{task}/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("patch", "/api/v1/tasks/{task}/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("delete", "/api/v1/tasks/{task}/", {ADMIN: 202, RESTRICTED: 403, OUTSIDER: 404}),
    ("get", "/api/v1/tasks/{task}/users/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
    ("post", "/api/v1/tasks/{task}/users/actions/", {ADMIN: 200, RESTRICTED: 403, OUTSIDER: 404}),
]
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/tasks/new/"): {"service": "box", "name": "From the browser"},
    ("post", "/tasks/{task}/"): {
        "name": "Renamed",
        "frequency": "weekly",
        "hour_utc": "5",
        "archived_retention_days": "30",
        "index_for_search": "on",
    },
    ("post", "/tasks/{task}/users/"): {"action": "pause", "box_user_id": ["100"]},
    ("post", "/api/v1/tasks/"): {
        "name": "CCG",
        "connection": {
            "kind": "ccg",
            "client_id": "a",
            "client_secret": "b",
            "enterprise_id": "1",
            "api_url": "http://127.0.0.1:9",
        },
    },
    ("patch", "/api/v1/tasks/{task}/"): {"hour_utc": 4, "frequency": "every_3_days"},
    ("post", "/api/v1/tasks/{task}/users/actions/"): {"action": "pause", "box_user_ids": ["100"]},
}


def _box_url() -> str:
    return str(BODIES[("post", "/api/v1/tasks/")]["connection"]["api_url"])


CASES = [(m, u, role, codes[role]) for m, u, codes in PAGES + API for role in (ADMIN, RESTRICTED, OUTSIDER)]


@pytest.fixture(autouse=True)
def _box_app(monkeypatch: pytest.MonkeyPatch, sandbox: Any) -> None:
    # The sandbox answers wrong credentials at once (a closed port would cost the SDK's retries).
    monkeypatch.setenv("BOXVAULT_BOX_CLIENT_ID", "portal-app")
    monkeypatch.setenv("BOXVAULT_BOX_CLIENT_SECRET", "portal-secret")
    monkeypatch.setenv("BOXVAULT_BOX_API_URL", sandbox.url)
    BODIES[("post", "/api/v1/tasks/")]["connection"]["api_url"] = sandbox.url


@pytest.mark.parametrize(("method", "url", "role", "expected"), CASES)
def test_access_matrix(
    client: Any,
    method: str,
    url: str,
    role: str,
    expected: int,
    admin: Any,
    restricted: Any,
    outsider: Any,
    make_task: Any,
) -> None:
    from portal.fixtures import login

    task = make_task(api_url=_box_url())
    who = {ADMIN: admin, RESTRICTED: restricted, OUTSIDER: outsider}[role]
    login(client, who.user)
    body = BODIES.get((method, url), {})
    target = url.format(task=task.pk)
    if url.startswith("/api/"):
        response = getattr(client, method)(target, body, content_type="application/json")
    else:
        response = getattr(client, method)(target, body)
    assert response.status_code == expected, response.content[:300]
    if role == OUTSIDER and response.status_code == 200:
        assert b"Daily Box" not in response.content


@pytest.mark.django_db
def test_view_only_member_cannot_change_anything(client: Any, admin: Any, make_task: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.backups.models import TaskUser
    from portal.fixtures import PASSWORD, login

    viewer = add_member(
        for_user(admin.user),
        email="v@a.example",
        password=PASSWORD,
        operations=["view_tasks"],
        services=["box"],
    )
    task = make_task()
    login(client, viewer.user)
    assert client.get(f"/api/v1/tasks/{task.pk}/").status_code == 200
    assert client.get(f"/tasks/{task.pk}/users/").status_code == 200
    for action in ("activate", "backup_now", "pause", "delete"):
        r = client.post(
            f"/api/v1/tasks/{task.pk}/users/actions/",
            {"action": action, "box_user_ids": ["100"]},
            content_type="application/json",
        )
        assert r.status_code == 403, action
    assert (
        client.patch(
            f"/api/v1/tasks/{task.pk}/", {"hour_utc": 3}, content_type="application/json"
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/tasks/{task.pk}/").status_code == 403
    assert client.post(f"/tasks/{task.pk}/", {"name": "x"}).status_code == 403
    assert set(TaskUser.objects.values_list("status", flat=True)) == {"not_active"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("patch", "/api/v1/tasks/{task}/", {"hour_utc": 99}),
        ("patch", "/api/v1/tasks/{task}/", {"frequency": "hourly"}),
        ("patch", "/api/v1/tasks/{task}/", {"archived_retention_days": 0}),
        ("patch", "/api/v1/tasks/{task}/", {"name": ""}),
        ("patch", "/api/v1/tasks/{task}/", "not json at all"),
        ("post", "/api/v1/tasks/{task}/users/actions/", {"action": "explode", "box_user_ids": ["100"]}),
        ("post", "/api/v1/tasks/{task}/users/actions/", {"action": "pause", "box_user_ids": []}),
        ("post", "/api/v1/tasks/{task}/users/actions/", {"action": "pause", "box_user_ids": ["nope"]}),
        ("post", "/api/v1/tasks/{task}/users/actions/", {"action": "pause", "box_user_ids": "100"}),
        ("post", "/api/v1/tasks/", {"name": "x"}),
        ("post", "/api/v1/tasks/", {"name": "x", "connection": {"kind": "oauth"}}),
        (
            "post",
            "/api/v1/tasks/",
            {
                "name": "x",
                "connection": {
                    "kind": "ccg",
                    "client_id": "a",
                    "client_secret": "b",
                    "enterprise_id": "1",
                    "api_url": "ftp://nope",
                },
            },
        ),
    ],
)
def test_bad_input_is_a_400_with_a_message(
    client: Any, admin: Any, make_task: Any, method: str, url: str, body: Any
) -> None:
    from portal.fixtures import login

    task = make_task()
    login(client, admin.user)
    payload = body if isinstance(body, str) else body
    r = getattr(client, method)(url.format(task=task.pk), payload, content_type="application/json")
    assert r.status_code == 400, r.content[:300]
    assert r.json()


@pytest.mark.django_db
def test_bad_ids_and_filters_never_500(client: Any, admin: Any, make_task: Any) -> None:
    from portal.fixtures import login

    task = make_task()
    login(client, admin.user)
    assert client.get("/api/v1/tasks/abc/").status_code == 404
    assert client.get("/api/v1/tasks/999999/users/").status_code == 404
    assert client.get("/tasks/999999/").status_code == 404
    r = client.get(f"/tasks/{task.pk}/users/?status=bogus&q=%00&page=zzz")
    assert r.status_code == 200
    r = client.post(f"/tasks/{task.pk}/users/", {"action": "explode", "box_user_id": ["100"]})
    assert r.status_code == 302
    r = client.get(f"/api/v1/tasks/{task.pk}/users/?status=paused&search=user1")
    assert r.status_code == 200 and r.json()["count"] == 0


@pytest.mark.django_db
def test_retention_is_for_operators_only(client: Any, admin: Any, make_task: Any) -> None:
    from boxvault.backups.models import Task
    from portal.fixtures import login

    task = make_task()
    login(client, admin.user)
    url = f"/api/v1/tasks/{task.pk}/retention/"
    assert (
        client.put(url, {"retention": "days", "value": 30}, content_type="application/json").status_code
        == 403
    )
    admin.user.is_staff = True
    admin.user.save()
    r = client.put(url, {"retention": "months", "value": 6}, content_type="application/json")
    assert r.status_code == 200 and r.json()["retention"] == "months"
    assert Task.objects.get(pk=task.pk).retention_label == "6 months"
    bad = client.put(url, {"retention": "days", "value": 0}, content_type="application/json")
    assert bad.status_code == 400
    assert client.put(url, {"retention": "forever"}, content_type="application/json").status_code == 400
    assert (
        client.put(url, {"retention": "unlimited"}, content_type="application/json").json()["retention_value"]
        == 0
    )
