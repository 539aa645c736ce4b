"""Every recovery page and endpoint for an administrator, a member without the operation, an outsider,
and bad input: a clear 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from recovery.fixtures import back_up


def _member(admin: Any, email: str, operations: list[str]) -> Any:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from portal.fixtures import PASSWORD

    return add_member(
        for_user(admin.user), email=email, password=PASSWORD, operations=operations, services=["box"]
    )


def _post(client: Any, url: str, body: Any) -> Any:
    return client.post(url, body, content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_pages_and_endpoints_by_role(client: Any, admin: Any, outsider: Any, sandbox: Any) -> None:
    from boxvault.jobs.models import Job
    from portal.fixtures import login

    backed = back_up(client, admin, sandbox)
    task, user, ref = backed.task.pk, backed.user["box_user_id"], backed.snapshot
    pages = [
        "/recovery/",
        f"/recovery/tasks/{task}/",
        f"/recovery/tasks/{task}/users/{user}/",
        f"/recovery/tasks/{task}/users/{user}/?tab=search",
        f"/recovery/snapshots/{ref}/",
        f"/recovery/snapshots/{ref}/?path={backed.proj}",
    ]
    api = [
        f"/api/v1/tasks/{task}/users/{user}/snapshots/",
        f"/api/v1/snapshots/{ref}/tree/?path={backed.proj}",
    ]
    restore = {"snapshot": ref, "paths": [backed.proj], "mode": "bypass"}
    export = {"snapshot": ref, "paths": [backed.proj], "target": {"kind": "zip"}}

    # administrator: everything
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
    assert b"Proj" in client.get(f"/recovery/snapshots/{ref}/").content
    assert backed.user["login"].encode() in client.get(f"/recovery/tasks/{task}/").content
    for url in api:
        assert client.get(url).status_code == 200, url
    for action in ("restore", "zip", "export"):
        assert client.get(f"/recovery/snapshots/{ref}/act/?action={action}").status_code == 200
    assert _post(client, "/api/v1/restores/", restore).status_code == 201
    assert _post(client, "/api/v1/exports/", export).status_code == 201
    jobs_before = Job.objects.count()

    # a member who may preview but neither restore nor export
    viewer = _member(admin, "vera@a.example", ["preview_data"])
    login(client, viewer.user)
    for url in pages + api:
        assert client.get(url).status_code == 200, url
    tree = client.get(f"/recovery/snapshots/{ref}/?path={backed.proj}").content
    assert b"restore-selected" not in tree and b"zip-selected" not in tree
    for action in ("restore", "zip", "export"):
        assert client.get(f"/recovery/snapshots/{ref}/act/?action={action}").status_code == 403
        assert (
            client.post(f"/recovery/snapshots/{ref}/act/", {"action": action, "confirm": "1"}).status_code
            == 403
        )
    assert _post(client, "/api/v1/restores/", restore).status_code == 403
    assert _post(client, "/api/v1/exports/", export).status_code == 403

    # a member who may restore but not export (and the other way round)
    restorer = _member(admin, "rob@a.example", ["preview_data", "restore"])
    login(client, restorer.user)
    assert _post(client, "/api/v1/exports/", export).status_code == 403
    assert client.get(f"/recovery/snapshots/{ref}/act/?action=zip").status_code == 403
    assert client.get(f"/recovery/snapshots/{ref}/act/?action=restore").status_code == 200
    exporter = _member(admin, "eve@a.example", ["preview_data", "export"])
    login(client, exporter.user)
    assert _post(client, "/api/v1/restores/", restore).status_code == 403

    # a member without preview: nothing
    blind = _member(admin, "bo@a.example", ["view_tasks", "restore", "export"])
    login(client, blind.user)
    for url in pages + api:
        assert client.get(url).status_code == 403, url

    # another tenant's administrator: the task and snapshot do not exist for them
    login(client, outsider.user)
    assert client.get("/recovery/").status_code == 200
    assert backed.task.name.encode() not in client.get("/recovery/").content
    for url in pages[1:] + api:
        assert client.get(url).status_code == 404, url
    assert client.get(f"/recovery/snapshots/{ref}/act/?action=restore").status_code == 404
    assert _post(client, "/api/v1/restores/", restore).status_code == 404
    assert _post(client, "/api/v1/exports/", export).status_code == 404
    assert Job.objects.count() == jobs_before

    # signed out
    client.logout()
    for url in pages:
        assert client.get(url).status_code == 302, url
    for url in api:
        assert client.get(url).status_code in (401, 403), url


@pytest.mark.django_db(transaction=True)
def test_bad_input_is_a_clear_4xx(client: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.jobs.models import Job

    backed = back_up(client, admin, sandbox)
    task, user, ref = backed.task.pk, backed.user["box_user_id"], backed.snapshot
    bad_gets = {
        f"/api/v1/tasks/{task}/users/{user}/snapshots/?from=yesterday": 400,
        f"/api/v1/tasks/{task}/users/{user}/snapshots/?from=2026-02-02&to=2026-01-01": 400,
        f"/api/v1/tasks/{task}/users/nobody/snapshots/": 404,
        f"/api/v1/tasks/999999/users/{user}/snapshots/": 404,
        "/api/v1/snapshots/not-a-ref/tree/": 400,
        f"/api/v1/snapshots/{task}:ffffffff/tree/": 404,
        f"/api/v1/snapshots/{ref}/tree/?path={backed.proj}/../..": 400,
        f"/api/v1/snapshots/{ref}/tree/?path=/elsewhere": 400,
        f"/api/v1/snapshots/{ref}/tree/?path={backed.proj}/missing": 404,
        f"/api/v1/snapshots/{ref}/tree/?path={backed.proj}/a.txt": 400,
        "/recovery/snapshots/not-a-ref/": 400,
        f"/recovery/snapshots/{ref}/?path=/elsewhere": 400,
        f"/recovery/tasks/{task}/users/{user}/?from=bad": 400,
        f"/recovery/tasks/{task}/users/nobody/": 404,
        "/recovery/snapshots/not-a-ref/act/": 400,
        f"/recovery/snapshots/{ref}/act/?action=delete": 400,
        "/recovery/download/garbage/": 410,
    }
    for url, expected in bad_gets.items():
        response = client.get(url)
        assert response.status_code == expected, (url, response.status_code, response.content[:300])
    assert client.get(f"/api/v1/snapshots/{ref}/tree/?path=/elsewhere").json()["detail"]

    base = {"snapshot": ref, "paths": [backed.proj], "mode": "bypass"}
    bad_restores = [
        ({**base, "mode": "shred"}, 400),
        ({**base, "snapshot": "x"}, 400),
        ({**base, "snapshot": None}, 400),
        ({**base, "paths": "Proj"}, 400),
        ({**base, "paths": [1, 2]}, 400),
        ({**base, "paths": [f"{backed.proj}/nothing-here"]}, 404),
        ({**base, "destination": {"box_user_id": "424242"}}, 400),
        ({**base, "destination": {"folder_id": "../x"}}, 400),
        ([1, 2, 3], 400),
    ]
    from boxvault.backups.models import TaskUser

    TaskUser.objects.filter(task=backed.task, box_user_id=backed.other["box_user_id"]).update(
        status=TaskUser.Status.ARCHIVED
    )
    archived = {**base, "destination": {"box_user_id": backed.other["box_user_id"]}}
    response = client.post("/api/v1/restores/", archived, content_type="application/json")
    assert response.status_code == 400 and "Archived" in response.json()["detail"]
    for body, expected in bad_restores:
        response = client.post("/api/v1/restores/", body, content_type="application/json")
        assert response.status_code == expected, (body, response.status_code, response.content[:300])
    response = client.post("/api/v1/restores/", "{not json", content_type="application/json")
    assert response.status_code == 400
    for target in ({}, {"kind": "ftp"}, {"kind": "s3", "location": "s3:http://127.0.0.1:9/b"}, "zip"):
        response = client.post(
            "/api/v1/exports/", {"snapshot": ref, "target": target}, content_type="application/json"
        )
        assert response.status_code == 400, (target, response.content[:300])
    page = client.post(
        f"/recovery/snapshots/{ref}/act/",
        {"action": "restore", "confirm": "1", "mode": "shred", "paths": [backed.proj]},
    )
    assert page.status_code == 400 and b"mode must be" in page.content
    assert not Job.objects.filter(kind__in=["restore", "export"]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_member_without_the_box_service_sees_and_does_nothing_of_box(
    client: Any, admin: Any, sandbox: Any
) -> None:
    """Every operation but no service: the account's Box tasks, snapshots, jobs and downloads are not
    there for them (404), on pages, API and the zip link alike — and nothing they try starts a job."""
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.core.operations import GRANTABLE
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from portal.fixtures import PASSWORD, login

    backed = back_up(client, admin, sandbox)
    task, user, ref = backed.task.pk, backed.user["box_user_id"], backed.snapshot
    export = client.post(
        "/api/v1/exports/",
        {"snapshot": ref, "paths": [backed.proj], "target": {"kind": "zip"}},
        content_type="application/json",
    )
    assert export.status_code == 201
    job_id = export.json()["id"]
    assert jobs.run(job_id) == "succeeded"
    link = Job.objects.get(pk=job_id).result["download_url"]
    assert client.get(link).status_code == 200

    member = add_member(
        for_user(admin.user),
        email="nosvc@a.example",
        password=PASSWORD,
        operations=[str(op) for op in GRANTABLE],
        services=[],
    )
    login(client, member.user)
    jobs_before = Job.objects.count()
    hidden = [
        f"/recovery/tasks/{task}/",
        f"/recovery/tasks/{task}/users/{user}/",
        f"/recovery/snapshots/{ref}/",
        f"/recovery/snapshots/{ref}/act/?action=zip",
        f"/api/v1/tasks/{task}/",
        f"/api/v1/tasks/{task}/users/",
        f"/api/v1/tasks/{task}/users/{user}/snapshots/",
        f"/api/v1/snapshots/{ref}/tree/?path={backed.proj}",
        f"/api/v1/tasks/{task}/search/?q=a",
        f"/api/v1/jobs/{job_id}/",
        f"/tasks/{task}/",
        f"/tasks/{task}/users/",
        f"/jobs/{job_id}/card/",
        f"/jobs/{job_id}/log/",
        link,
    ]
    for url in hidden:
        response = client.get(url)
        assert response.status_code == 404, (url, response.status_code)
    assert backed.task.name.encode() not in client.get("/recovery/").content
    assert client.get("/api/v1/tasks/").json()["count"] == 0
    assert client.get("/api/v1/jobs/").json()["count"] == 0
    restore = {"snapshot": ref, "paths": [backed.proj], "mode": "bypass"}
    assert _post(client, "/api/v1/restores/", restore).status_code == 404
    zipped = {"snapshot": ref, "paths": [backed.proj], "target": {"kind": "zip"}}
    assert _post(client, "/api/v1/exports/", zipped).status_code == 404
    backup_now = {"action": "backup_now", "box_user_ids": [user]}
    assert _post(client, f"/api/v1/tasks/{task}/users/actions/", backup_now).status_code == 404
    assert _post(client, f"/api/v1/jobs/{job_id}/cancel/", {}).status_code == 404
    assert client.post(f"/jobs/{job_id}/cancel/").status_code == 404
    assert backed.task.name.encode() not in client.get("/").content
    assert backed.task.name.encode() not in client.get("/jobs/").content
    assert Job.objects.count() == jobs_before


@pytest.mark.django_db(transaction=True)
def test_page_and_api_refuse_a_request_with_the_same_words(client: Any, admin: Any, sandbox: Any) -> None:
    """One serializer parses a restore (and an export) for both: the same bad input, the same sentence."""
    import html

    backed = back_up(client, admin, sandbox)
    ref = backed.snapshot
    cases = [
        ({"mode": "shred"}, {"mode": "shred"}),
        ({"mode": "bypass", "destination": {"folder_id": "../x"}}, {"mode": "bypass", "folder_id": "../x"}),
    ]
    for api_extra, form_extra in cases:
        api = _post(client, "/api/v1/restores/", {"snapshot": ref, "paths": [backed.proj], **api_extra})
        page = client.post(
            f"/recovery/snapshots/{ref}/act/",
            {"action": "restore", "confirm": "1", "paths": [backed.proj], **form_extra},
        )
        assert api.status_code == page.status_code == 400
        assert html.escape(api.json()["detail"]).encode() in page.content, api.json()
