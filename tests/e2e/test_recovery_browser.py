"""Via snapshot in Chromium: list the user's snapshots, drill into the tree, select a folder, restore it
non-destructively, and find it in the sandbox through the official SDK (issue 7)."""

from __future__ import annotations

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


def test_via_snapshot_drill_down_select_folder_restore_non_destructively(
    client: Any,
    admin: Any,  # noqa: F811 - the imported fixture
    sandbox: Any,  # noqa: F811 - the imported fixture
    live_server: Any,
    queued: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    from boxvault.jobs import services as jobs
    from recovery.fixtures import CONTENT, back_up, find, folder_items, sha1

    backed = back_up(client, admin, sandbox)
    session = client.cookies["sessionid"].value
    # the ORM is called from this thread while Playwright's event loop runs in it (never concurrently)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live_server.url}/recovery/")
        page.click(f"#recovery-tasks >> text={backed.task.name}")
        page.locator(
            f'#recovery-users tr[data-user="{backed.user["box_user_id"]}"] >> text=Restore or download'
        ).click()
        page.wait_for_selector("#tab-snapshot")
        rows = page.locator("#snapshots tbody tr[data-snapshot]")
        assert rows.count() == 1 and rows.first.get_attribute("data-snapshot") == backed.snapshot
        rows.first.locator("text=Browse").click()
        page.locator("#entries a.folder", has_text="Proj").click()  # htmx swaps the tree
        page.locator(f'#entries tr[data-path="{backed.proj}/Sub"]').wait_for()
        assert page.locator(f'#entries tr[data-path="{backed.proj}/a.txt"]').count() == 1
        page.locator(f'#entries tr[data-path="{backed.proj}/Sub"] input[type=checkbox]').check()
        page.click("#restore-selected")
        page.wait_for_selector("#confirm")
        assert f"{backed.proj}/Sub" in page.content()
        assert page.locator("input[name=mode][value=non_destructive]").is_checked()
        queued.clear()
        page.click("#confirm")
        page.wait_for_url("**/jobs/**")
        assert len(queued) == 1
        assert jobs.run(queued[0]) == "succeeded"
        page.reload()
        assert page.locator(f"#job-{queued[0]}[data-status=succeeded]").count() == 1

    sdk = backed.client
    restored = [name for name in folder_items(sdk, "0") if name.startswith("Restored ")]
    assert len(restored) == 1
    names = set(folder_items(sdk, str(find(sdk, f"{restored[0]}/Proj").id)))
    assert names == {"Sub"}  # only the selected folder
    for rel in ("Sub/c.txt", "Sub/Deep/d.md"):
        item = find(sdk, f"{restored[0]}/Proj/{rel}")
        assert sdk.files.get_file_by_id(str(item.id), fields=["sha1"]).sha_1 == sha1(CONTENT[rel])
    assert find(sdk, "Proj/Sub/c.txt") is not None  # the live tree is untouched


def test_the_folder_picker_chooses_where_a_restore_goes(
    client: Any,
    admin: Any,  # noqa: F811 - the imported fixture
    sandbox: Any,  # noqa: F811 - the imported fixture
    live_server: Any,
    queued: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dialog lists the destination user's Box folders (htmx, no inline script); opening Proj and
    choosing Sub sends the restore there; the dialog with the picker open passes axe-core."""
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from recovery.fixtures import back_up, find, folder_items
    from support.browser import axe_violations

    backed = back_up(client, admin, sandbox)
    sdk = backed.client
    sub = find(sdk, "Proj/Sub")
    session = client.cookies["sessionid"].value
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(
            f"{live_server.url}/recovery/snapshots/{backed.snapshot}/act/?action=restore"
            f"&paths={backed.proj}/a.txt"
        )
        page.locator("#folder-picker fieldset").wait_for()  # loaded by htmx from the destination's Box
        page.get_by_role("button", name="Open Proj").click()
        page.locator(f'#folder-picker input[name=folder_pick][value="{sub.id}"]').wait_for()
        assert page.locator("#folder-picker [aria-current=location]").inner_text() == "Proj"
        assert axe_violations(page) == []
        page.get_by_label("Sub", exact=True).check()
        queued.clear()
        page.click("#confirm")
        page.wait_for_url("**/jobs/**")
        assert len(queued) == 1
    job = Job.objects.get(pk=queued[0])
    assert job.params["destination"]["folder_id"] == str(sub.id)
    assert jobs.run(job.pk) == "succeeded"
    assert [name for name in folder_items(sdk, str(sub.id)) if name.startswith("Restored ")]
