"""In Chromium against a real `boxvault serve` (SQLite queue and database): a job card's progress moves by
itself while the job runs, Cancel stops it within seconds, System Activity shows the run and its pop-up."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.test_jobs_processes import PASSWORD, _create_account, _enqueue, _env
from support import boxvault_cmd, cli_env, free_port, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], int]]:
    env = _env(tmp_path / "data", BOXVAULT_JOB_LEASE_SECONDS="6")
    account = _create_account(env, tmp_path)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        boxvault_cmd("serve", "--port", str(port), "--workers", "2"),
        env=cli_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: urllib.request.urlopen(url + "/readyz", timeout=2).status == 200,
            timeout=60,
            what="boxvault serve",
        )
        yield url, env, account
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_live_progress_cancel_and_activity(
    portal: tuple[str, dict[str, str], int], browser: Any, tmp_path: Path
) -> None:
    url, env, account = portal
    quick, slow = _enqueue(
        env,
        account,
        [{"steps": 3, "step_seconds": 0.05}, {"steps": 600, "step_seconds": 0.05, "bytes_per_step": 4096}],
    )
    page = browser.new_page()
    page.goto(url + "/accounts/login/")
    page.fill("input[name=login]", "ops@corp.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(url + "/")
    page.goto(url + "/jobs/")
    card = page.locator(f"#job-{slow}")
    bar = card.locator("progress")
    # the page was loaded once: only htmx polling can move the bar and the status
    page.wait_for_function(
        f"() => {{ const b = document.querySelector('#job-{slow} progress');"
        " return b && Number(b.getAttribute('value')) >= 5; }",
        timeout=30000,
    )
    first = int(bar.get_attribute("value") or 0)
    page.wait_for_function(
        f"() => Number(document.querySelector('#job-{slow} progress').getAttribute('value')) > {first}",
        timeout=15000,
    )
    assert page.locator(f"#job-{quick}").get_attribute("data-status") == "succeeded"
    page.screenshot(path=str(tmp_path / "jobs.png"), full_page=True)
    asked = time.monotonic()
    card.locator("button", has_text="Cancel").click()
    page.wait_for_selector(f"#job-{slow}[data-status=canceled]", timeout=10000)
    assert time.monotonic() - asked < 7  # ≤ 5 s to stop + one 2 s poll
    assert page.locator(f"#job-{slow} .badge").inner_text() == "Canceled"
    page.goto(url + "/jobs/?status=succeeded")
    assert page.locator("article.job").count() == 1

    page.goto(url + "/activity/")
    rows = page.locator("#activity tbody tr")
    assert rows.count() >= 3  # two finished jobs and the cancel request
    canceled = rows.filter(has_text="Canceled").first
    canceled.locator("button[popovertarget]").click()
    popover = canceled.locator("[popover]")
    popover.wait_for(state="visible")
    assert "Execution time" in popover.inner_text() and "Canceled" in popover.inner_text()
    page.screenshot(path=str(tmp_path / "activity.png"), full_page=True)
    csv = page.request.get(url + "/activity/export.csv")
    assert csv.status == 200 and "Test sleep" in csv.text()
