"""Via item search in Chromium: find a backed-up file by its author, select it, download the zip (issue 7)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from portal.fixtures import admin, fast_hashing, make_account  # noqa: F401 - fixtures
from recovery.fixtures import sandbox  # noqa: F401 - fixture: a sandbox with a known tree per user
from support.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _kek(settings: Any, tmp_path: Any) -> None:
    from backups.fixtures import TEST_KEK

    settings.BOXVAULT_KEK = TEST_KEK
    settings.DATA_DIR = tmp_path / "data"
    settings.BOXVAULT_LOCATIONS = {"local": {"label": "Local", "url": str(tmp_path / "repos")}}


@pytest.fixture(autouse=True)
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from boxvault.jobs import services

    sent: list[int] = []
    monkeypatch.setattr(services, "_send", sent.append)
    return sent


def test_search_by_author_select_and_download_zip(
    client: Any,
    admin: Any,  # noqa: F811 - the imported fixture
    sandbox: Any,  # noqa: F811 - the imported fixture
    live_server: Any,
    queued: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    from boxvault.jobs import services as jobs
    from recovery.fixtures import CONTENT, back_up

    backed = back_up(client, admin, sandbox)
    session = client.cookies["sessionid"].value
    # the ORM is called from this thread while Playwright's event loop runs in it (never concurrently)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        context = browser.new_context(accept_downloads=True)
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()
        user = backed.user["box_user_id"]
        page.goto(f"{live_server.url}/recovery/tasks/{backed.task.pk}/users/{user}/?tab=search")
        page.fill("#search-author", backed.user["login"])
        page.fill("#search-name", "c.txt")
        page.click("#search-submit")
        row = page.locator('#search-results tr[data-path="Proj/Sub/c.txt"]')
        row.wait_for()
        assert page.locator("#search-results tbody tr").count() == 1
        row.locator("input[type=checkbox]").check()
        page.click("#search-zip")
        page.wait_for_selector("#confirm")
        assert "Proj/Sub/c.txt" in page.content()
        queued.clear()
        page.click("#confirm")
        page.wait_for_url("**/jobs/**")
        assert len(queued) == 1
        assert jobs.run(queued[0]) == "succeeded"
        page.reload()
        with page.expect_download() as info:
            page.click("text=Download Results")
        data = open(info.value.path(), "rb").read()  # noqa: SIM115 - Playwright owns the file
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = [n for n in archive.namelist() if not n.endswith("/") and not n.startswith(".boxvault")]
        assert [n.rsplit("/", 1)[-1] for n in files] == ["c.txt"]
        assert archive.read(files[0]) == CONTENT["Sub/c.txt"]
