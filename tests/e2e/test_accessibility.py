"""Every page of the portal, as an administrator sees it with a backed-up task, passes axe-core in Chromium
with no violation (signed-out pages too). New pages belong in PAGES."""

from __future__ import annotations

from typing import Any

import pytest

from portal.fixtures import admin, fast_hashing, make_account  # noqa: F401 - fixtures
from recovery.fixtures import sandbox  # noqa: F401 - fixture: a sandbox with a known tree per user
from support.browser import axe_violations, chromium

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.django_db(transaction=True)]

SIGNED_OUT = ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/sso/"]
PAGES = [
    "/",
    "/tasks/new/",
    "/tasks/{task}/",
    "/tasks/{task}/users/",
    "/jobs/",
    "/jobs/{job}/log/",
    "/activity/",
    "/audit/",
    "/recovery/",
    "/recovery/tasks/{task}/",
    "/recovery/tasks/{task}/users/{user}/",
    "/recovery/tasks/{task}/users/{user}/?tab=search",
    "/recovery/tasks/{task}/users/{user}/search/?q=a",
    "/recovery/snapshots/{ref}/",
    "/recovery/snapshots/{ref}/?path={proj}",
    "/recovery/snapshots/{ref}/act/?action=restore",
    "/recovery/snapshots/{ref}/act/?action=zip",
    "/recovery/snapshots/{ref}/versions/?path={proj}/a.txt",
    "/recovery/snapshots/{ref}/erase/?paths={proj}/a.txt",
    "/recovery/erasures/",
    "/settings/",
    "/settings/tokens/",
    "/settings/security/",
    "/settings/notifications/",
    "/users/",
    "/users/add/",
    "/support/",
    "/billing/",
]


@pytest.fixture(autouse=True)
def _kek(settings: Any, tmp_path: Any) -> None:
    from backups.fixtures import TEST_KEK

    settings.BOXVAULT_KEK = TEST_KEK
    settings.DATA_DIR = tmp_path / "data"
    settings.BOXVAULT_LOCATIONS = {"local": {"label": "Local", "url": str(tmp_path / "repos")}}
    settings.BOXVAULT_BILLING = True  # the Billing page and the trial banner are checked too


@pytest.fixture(autouse=True)
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from boxvault.jobs import services

    sent: list[int] = []
    monkeypatch.setattr(services, "_send", sent.append)
    return sent


def test_every_page_passes_axe(
    client: Any,
    admin: Any,  # noqa: F811 - the imported fixture
    sandbox: Any,  # noqa: F811 - the imported fixture
    live_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from boxvault.jobs.models import Job
    from recovery.fixtures import back_up

    backed = back_up(client, admin, sandbox)
    job = Job.objects.filter(task_id=backed.task.pk).latest("id")
    values = {
        "task": backed.task.pk,
        "user": backed.user["box_user_id"],
        "ref": backed.snapshot,
        "proj": backed.proj,
        "job": job.pk,
    }
    session = client.cookies["sessionid"].value
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM runs in Playwright's thread
    found: list[str] = []

    with chromium() as browser:
        anonymous = browser.new_context().new_page()
        for path in SIGNED_OUT:
            response = anonymous.goto(live_server.url + path)
            assert response is not None and response.status == 200, path
            found += axe_violations(anonymous)

        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()
        for template in PAGES:
            path = template.format(**values)
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == 200, (path, response and response.status)
            page.wait_for_load_state("networkidle")
            found += axe_violations(page)
    assert found == [], "\n".join(found)
