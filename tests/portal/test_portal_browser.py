"""End to end in Chromium against a running `boxvault serve`, with activation mail on a real SMTP server.

Sign up, activate from the e-mail, sign in, rename the account, add a restricted user, sign in as that user
and find forbidden pages and API calls refused, then see the audit rows and download and parse the CSV.
"""

from __future__ import annotations

import csv
import email
import re
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from support import boxvault_cmd, cli_env, free_port, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ADMIN_PASSWORD = "Browser-Admin-Pass-1"
USER_PASSWORD = "Browser-Restricted-2"


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's API
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def wait_for_link(self, to: str, pattern: str, timeout: float = 30) -> str:
        found: list[str] = []

        def check() -> bool:
            with self._lock:
                for message in self.messages:
                    if to in message["To"]:
                        body = (
                            message.get_payload(decode=True)
                            if not message.is_multipart()
                            else (message.get_payload(0).get_payload(decode=True))
                        )
                        match = re.search(pattern, body.decode())
                        if match:
                            found.append(match.group(0))
                            return True
            return False

        wait_for(check, timeout=timeout, what=f"an e-mail to {to}")
        return found[0]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def server(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[str]:
    port = free_port()
    env = {
        "BOXVAULT_DATA": str(tmp_path / "data"),
        "BOXVAULT_SMTP_HOST": "127.0.0.1",
        "BOXVAULT_SMTP_PORT": str(smtp[1]),
        "DATABASE_URL": "",
        "BOXVAULT_REDIS_URL": "",
    }
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        boxvault_cmd("serve", "--port", str(port)), env=cli_env(env), stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: urllib.request.urlopen(url + "/readyz", timeout=2).status == 200,
            timeout=60,
            what="boxvault serve",
        )
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        assert "Traceback" not in (tmp_path / "serve.log").read_text()


def _sign_in(page: Any, url: str, login: str, password: str) -> None:
    page.goto(url + "/accounts/login/")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")


def test_sign_up_to_audit_csv(server: str, smtp: tuple[Inbox, int], browser: Any, tmp_path: Path) -> None:
    inbox = smtp[0]
    admin = browser.new_context(accept_downloads=True)
    page = admin.new_page()
    page.set_default_timeout(20_000)
    # The Content-Security-Policy refuses inline script and style: Chromium reports refusals on the console.
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    # sign up
    page.goto(server + "/accounts/signup/")
    page.fill("input[name=first_name]", "Erin")
    page.fill("input[name=last_name]", "Endtoend")
    page.fill("input[name=email]", "erin@e2e.example")
    page.select_option("select[name=location]", "local")
    page.fill("input[name=password1]", ADMIN_PASSWORD)
    page.fill("input[name=password2]", ADMIN_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/accounts/confirm-email/")

    # activate from the e-mail received over SMTP, then sign in
    link = inbox.wait_for_link("erin@e2e.example", r"https?://\S+/accounts/confirm-email/\S+/")
    page.goto(link)
    _sign_in(page, server, "erin@e2e.example", ADMIN_PASSWORD)
    page.wait_for_url(server + "/")
    assert "Erin Endtoend" in page.inner_text("main")
    assert page.evaluate("typeof htmx") == "object"  # loaded from our origin under the policy

    # rename the account
    page.click("nav >> text=Settings")
    page.fill("input[name=name]", "E2E Industries")
    page.click("main form button[type=submit]")
    assert "Account settings saved." in page.inner_text("main")
    assert page.input_value("input[name=name]") == "E2E Industries"

    # add a restricted user who may only view support
    page.click("nav >> text=Users")
    page.click("text=+ Add new user")
    page.fill("input[name=email]", "ron@e2e.example")
    page.fill("input[name=first_name]", "Ron")
    page.fill("input[name=password1]", USER_PASSWORD)
    page.fill("input[name=password2]", USER_PASSWORD)
    page.check("input[name=role][value=custom]")
    page.check("input[name=operations][value=view_support]")
    page.check("input[name=services][value=box]")
    page.click("main form button[type=submit]")
    assert "ron@e2e.example" in page.inner_text("table")

    # the restricted user: one wrong password, then in; forbidden pages and API calls are refused
    restricted = browser.new_context()
    rpage = restricted.new_page()
    rpage.set_default_timeout(20_000)
    _sign_in(rpage, server, "ron@e2e.example", "not-the-password")
    assert "not correct" in rpage.inner_text("main")
    _sign_in(rpage, server, "ron@e2e.example", USER_PASSWORD)
    rpage.wait_for_url(server + "/")
    nav = rpage.inner_text("nav")
    assert "Support" in nav and "Users" not in nav and "Security audit" not in nav and "Settings" not in nav
    for path in ("/users/", "/users/add/", "/audit/", "/settings/", "/settings/remove/"):
        response = rpage.goto(server + path)
        assert response.status == 403, path
        assert "Access denied" in rpage.inner_text("main")
    assert rpage.goto(server + "/support/").status == 200
    for path in ("/api/v1/members/", "/api/v1/audit/", "/api/v1/account/"):
        response = rpage.request.get(server + path)
        assert response.status == 403, path
        assert "does not allow" in response.json()["detail"]
    response = rpage.request.post(
        server + "/api/v1/members/",
        data={"email": "evil@e2e.example"},
        headers={"X-CSRFToken": _csrf(restricted)},
    )
    assert response.status == 403
    me = rpage.request.get(server + "/api/v1/me/").json()
    assert me["operations"] == ["view_support"]
    restricted.close()

    # back as the administrator: the audit trail and its CSV
    page.click("nav >> text=Security audit")
    table = page.inner_text("#audit")
    assert "Native Sign In (OK) Chrome from ip 127.0.0.1" in table
    assert "Native Sign In (Failed) Chrome from ip 127.0.0.1" in table
    assert "E2E Industries" in table and "Added user ron@e2e.example" in table
    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    target = tmp_path / "audit.csv"
    download.save_as(target)
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    activities = {row["Activity"] for row in rows}
    assert {"Account Created", "Sign In", "Settings Changed", "User Added"} <= activities
    renamed = [r for r in rows if r["Activity"] == "Settings Changed"]
    assert (
        "'E2E Industries'" in renamed[0]["Description"] and renamed[0]["Performed by"] == "erin@e2e.example"
    )
    failed = [r for r in rows if r["Status"] == "Failed"]
    assert failed and failed[0]["Performed by"] == "ron@e2e.example"
    # the filtered export honours the page's filters
    page.select_option("select[name=activity]", "user_added")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**activity=user_added**")  # htmx swapped the results in and updated the address
    assert "Settings Changed" not in page.inner_text("#audit")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    filtered = download_info.value.path().read_text()
    assert [r["Activity"] for r in csv.DictReader(filtered.splitlines())] == ["User Added"]
    assert not refused, refused
    admin.close()


def _csrf(context: Any) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
