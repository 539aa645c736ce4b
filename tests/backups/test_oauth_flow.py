"""Connecting Box with OAuth 2.0 through the sandbox's authorize page, re-authorizing when disconnected."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

CALLBACK = "http://testserver/tasks/oauth/callback/"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _consent(url: str) -> str:
    """Open the authorize URL (auto-approve is on) and return where the sandbox sends the browser."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(url, timeout=30)
    except urllib.error.HTTPError as exc:
        assert exc.code == 302, exc.read()
        return str(exc.headers["Location"])
    raise AssertionError("the authorize page did not redirect")


@pytest.fixture
def box_app(monkeypatch: pytest.MonkeyPatch, sandbox: Any) -> Any:
    monkeypatch.setenv("BOXVAULT_BOX_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("BOXVAULT_BOX_CLIENT_SECRET", sandbox.client_secret)
    monkeypatch.setenv("BOXVAULT_BOX_API_URL", sandbox.url)
    sandbox.auto_approve(sandbox.admin_user_id, redirect_uris=[CALLBACK])
    yield sandbox
    sandbox.auto_approve(None, redirect_uris=[])


def _connect(client: Any, response: Any, sandbox: Any) -> Any:
    assert response.status_code == 302
    authorize = response["Location"]
    assert authorize.startswith(f"{sandbox.url}/api/oauth2/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert (
        query["client_id"] == [sandbox.client_id]
        and query["redirect_uri"] == [CALLBACK]
        and query["state"][0]
    )
    back = _consent(authorize)
    assert back.startswith(CALLBACK)
    return client.get(back.removeprefix("http://testserver"))


@pytest.mark.django_db(transaction=True)
def test_oauth_connect_reauthorize_and_state_check(client: Any, admin: Any, box_app: Any) -> None:
    from boxvault.backups.models import Task, TaskUser
    from boxvault.backups.tokens import TaskTokenStorage
    from boxvault.backups.views import _STATE_KEY
    from portal.fixtures import login

    sandbox = box_app
    login(client, admin.user)
    assert b"+ Add Backup Task" in client.get("/").content
    landed = _connect(client, client.post("/tasks/new/", {"service": "box", "name": "Our Box"}), sandbox)
    task = Task.objects.get(name="Our Box")
    assert landed.status_code == 302 and landed["Location"] == f"/tasks/{task.pk}/"
    assert task.status == Task.Status.CONNECTED and task.kind == "oauth"
    assert task.enterprise_id == sandbox.enterprise_id
    assert task.sealed_tokens and "access_token" not in task.sealed_tokens
    assert task.acts_as_users  # an administrator's grant covers the enterprise
    assert TaskUser.objects.filter(task=task).count() >= 3  # the users were discovered
    page = client.get(f"/tasks/{task.pk}/")
    assert b"Connected" in page.content and b"Authorize in Box again" not in page.content

    # a callback that does not carry this session's state is refused (CSRF on the redirect)
    client.post(f"/tasks/{task.pk}/connect/")
    r = client.get("/tasks/oauth/callback/?code=stolen&state=not-the-one", follow=True)
    assert b"could not be matched" in r.content
    assert _STATE_KEY not in client.session

    # the refresh token dies (revoked in Box): the next call marks the task Disconnected
    from box_sdk_gen.schemas.access_token import AccessToken

    TaskTokenStorage(task.pk).store(
        AccessToken(access_token="dead", refresh_token="dead-too", expires_in=3600)
    )
    r = client.post(f"/tasks/{task.pk}/users/refresh/", follow=True)
    assert b"Could not list the Box users" in r.content
    task.refresh_from_db()
    assert task.status == Task.Status.DISCONNECTED
    page = client.get(f"/tasks/{task.pk}/")
    assert b"Disconnected" in page.content and b"Authorize in Box again" in page.content

    # clicking Disconnected repeats the authorization
    landed = _connect(client, client.post(f"/tasks/{task.pk}/connect/"), sandbox)
    assert landed["Location"] == f"/tasks/{task.pk}/"
    task.refresh_from_db()
    assert task.status == Task.Status.CONNECTED
    assert Task.objects.count() == 1

    # the user denies access: the task stays as it was and says so
    sandbox.auto_approve(None)
    client.post(f"/tasks/{task.pk}/connect/")
    state = client.session[_STATE_KEY]["state"]
    r = client.get(f"/tasks/oauth/callback/?error=access_denied&state={state}", follow=True)
    assert b"not granted" in r.content


@pytest.mark.django_db(transaction=True)
def test_oauth_task_backs_up_and_refreshes_tokens_in_the_database(
    client: Any, admin: Any, box_app: Any
) -> None:
    from boxvault.backups import vault
    from boxvault.backups.models import Task, TaskUser
    from boxvault.jobs import services as jobs
    from portal.fixtures import login

    sandbox = box_app
    login(client, admin.user)
    _connect(client, client.post("/tasks/new/", {"service": "box", "name": "Refreshing"}), sandbox)
    task = Task.objects.get(name="Refreshing")
    before = vault.get_json(task, "tokens")
    sandbox.expire_tokens()  # the stored access token is dead: the run must refresh (and store the rotation)
    user = TaskUser.objects.filter(task=task).exclude(box_user_id=sandbox.admin_user_id).first()
    assert user is not None
    r = client.post(f"/tasks/{task.pk}/users/", {"action": "backup_now", "box_user_id": [user.box_user_id]})
    assert r.status_code == 302
    from boxvault.jobs.models import Job

    job = Job.objects.get(task_id=task.pk)
    assert jobs.run(job.pk) == "succeeded", list(job.log.values_list("message", flat=True))
    task.refresh_from_db()
    after = vault.get_json(task, "tokens")
    assert after["refresh_token"] != before["refresh_token"]  # rotated and saved
    assert task.status == Task.Status.CONNECTED
    user.refresh_from_db()
    assert user.last_backup_at is not None and user.status == TaskUser.Status.NOT_ACTIVE


@pytest.mark.django_db(transaction=True)
def test_a_regular_users_grant_backs_up_that_user_alone(client: Any, admin: Any, box_app: Any) -> None:
    from boxvault.backups.models import Task, TaskUser
    from portal.fixtures import login

    sandbox = box_app
    someone = sandbox.users[0]
    sandbox.auto_approve(someone["id"], redirect_uris=[CALLBACK])
    login(client, admin.user)
    _connect(client, client.post("/tasks/new/", {"service": "box", "name": "Just me"}), sandbox)
    task = Task.objects.get(name="Just me")
    assert task.status == Task.Status.CONNECTED and not task.acts_as_users
    assert list(TaskUser.objects.filter(task=task).values_list("box_user_id", flat=True)) == [someone["id"]]
