"""Box API URLs come from the operator (issue 11): a tenant cannot point the server at its own Redis, a port
scanner or a control API; a CCG connection is checked for real; and a Box that never answers holds no
database lock while it is waited for, so other tenants are not affected."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from support.loopback import plain_text, recorder, tarpit


def _create(client: Any, api_url: str, **connection: Any) -> Any:
    body = {
        "name": "Probe",
        "connection": {
            "kind": "ccg",
            "client_id": "cid",
            "client_secret": "csecret",
            "enterprise_id": "1",
            "api_url": api_url,
            **connection,
        },
    }
    return client.post("/api/v1/tasks/", body, content_type="application/json")


@pytest.mark.django_db
def test_a_tenant_cannot_choose_where_box_is(client: Any, admin: Any, sandbox: Any) -> None:
    from boxvault.backups.models import Task
    from portal.fixtures import login

    login(client, admin.user)
    with recorder() as internal:  # something on the server's own network (Redis, a control API, ...)
        refused = [
            internal.url,
            "http://127.0.0.1:6379",
            "http://169.254.169.254",
            sandbox.url + "/?",  # would hand the tenant the whole path
            sandbox.url + "/_sandbox/reset?",
            sandbox.url + "#",
            sandbox.url + "/2.0/../_sandbox",
            sandbox.url.replace("http://", "http://user@"),
            sandbox.url.replace("http://", "ftp://"),
            sandbox.url + "/%2e%2e/_sandbox",
            sandbox.url + "\\@evil",
        ]
        for url in refused:
            response = _create(client, url)
            assert response.status_code == 400, (url, response.content)
            detail = response.json()["detail"]
            assert "not allowed" in detail or "plain https://host" in detail, (url, detail)
        assert internal.connections[0] == 0 and internal.seen == []
    assert not Task.objects.exists()
    # the operator's allow-list (the tests add their sandbox, as `serve --demo` does) still works
    ok = _create(
        client,
        sandbox.url + "/",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        enterprise_id=sandbox.enterprise_id,
    )
    assert ok.status_code == 201, ok.content
    assert Task.objects.get().api_url == sandbox.url


@pytest.mark.django_db
def test_a_saved_task_whose_url_is_no_longer_allowed_connects_nowhere(make_task: Any) -> None:
    from boxvault.backups import services
    from boxvault.core.egress import EgressRefused

    with recorder() as internal:
        task = make_task(api_url=internal.url)  # saved before the allow-list existed
        with pytest.raises(EgressRefused, match="not allowed"):
            services.discover_users(task)
        assert internal.connections[0] == 0


@pytest.mark.django_db
def test_a_server_answering_plain_text_is_not_box(
    client: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boxvault.backups.models import Task
    from portal.fixtures import login

    login(client, admin.user)
    with recorder(plain_text) as fake:
        monkeypatch.setenv("BOXVAULT_BOX_API_URLS", fake.url)  # the operator allowed it, by mistake
        response = _create(client, fake.url)
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert "did not answer a Box access token" in detail
        assert "hello" not in detail  # nothing of what it answered
        assert all(s.headers.get("authorization") != "Bearer None" for s in fake.seen)
        assert [s.path for s in fake.seen] == ["/oauth2/token"]
    assert not Task.objects.exists()  # never saved as Connected


@pytest.mark.django_db(transaction=True)
def test_a_box_that_never_answers_holds_no_lock_on_other_tenants(
    admin: Any, outsider: Any, make_task: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boxvault.backups import services
    from boxvault.box.connect import Limits
    from portal.fixtures import login

    # the interactive limits, shortened for the test (15 s in production)
    short = Limits(max_attempts=1, exception_retries=0, connect_timeout_s=2.0, read_timeout_s=3.0)
    monkeypatch.setattr(services, "INTERACTIVE", short)
    theirs = make_task(account_admin=outsider, name="Globex daily", users=1)
    attacker, other = login(Client(), admin.user), login(Client(), outsider.user)
    with tarpit() as pit:
        monkeypatch.setenv("BOXVAULT_BOX_API_URLS", pit.url)
        result: dict[str, Any] = {}

        def hostile() -> None:
            started = time.monotonic()
            try:
                result["response"] = _create(attacker, pit.url)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                result["error"] = exc
            finally:
                connection.close()  # this thread's own database connection
            result["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=hostile)
        thread.start()
        assert pit.accepted.wait(10), "the tenant's request never reached the tarpit"
        # while the hostile request waits on the tarpit, the other tenant reads and writes as usual
        for hour in (3, 4, 5):
            started = time.monotonic()
            changed = other.patch(
                f"/api/v1/tasks/{theirs.pk}/", {"hour_utc": hour}, content_type="application/json"
            )
            listed = other.get("/api/v1/tasks/")
            assert changed.status_code == 200 and listed.status_code == 200
            assert time.monotonic() - started < 2.0
            assert thread.is_alive()  # still waiting on the tarpit meanwhile
        thread.join(30)
    assert "error" not in result, repr(result.get("error"))
    response = result["response"]
    assert response.status_code == 400
    assert response.json()["detail"] == "Box refused the connection: Box did not answer in time."
    assert result["seconds"] < 15, result["seconds"]
