"""The newcomer's first experience, in Chromium against `boxvault serve --demo` (issue 6's acceptance).

Sign up (activation mail over real SMTP), add a Box task, grant access on the sandbox's consent page, activate
two users, Backup Now, watch the jobs page go from progress to Succeeded, open System Activity and export its
CSV; the snapshots then pass `restic check --read-data`.
"""

from __future__ import annotations

import csv
import email
import io
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from support import boxvault_cmd, cli_env, free_port, require_binary, run_cli, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "Demo-Newcomer-Pass-7"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's API
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def link(self, pattern: str) -> str:
        found: list[str] = []

        def check() -> bool:
            with self._lock:
                for message in self.messages:
                    part = message if not message.is_multipart() else message.get_payload(0)
                    match = re.search(pattern, part.get_payload(decode=True).decode())
                    if match:
                        found.append(match.group(0))
                        return True
            return False

        wait_for(check, timeout=30, what="the activation e-mail")
        return found[0]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def demo(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[tuple[str, Path]]:
    port, data = free_port(), tmp_path / "data"
    env = {
        "BOXVAULT_DATA": str(data),
        "BOXVAULT_SMTP_HOST": "127.0.0.1",
        "BOXVAULT_SMTP_PORT": str(smtp[1]),
        "BOXVAULT_DEMO_FILES_PER_USER": "120",
        "BOXVAULT_BOX_RATE_PER_USER": "30",  # runs long enough (~10 s) for the jobs page to show them running
        "DATABASE_URL": "",
        "BOXVAULT_REDIS_URL": "",
        "BOXVAULT_KEK": "",
        "BOXVAULT_KEK_FILE": "",
    }
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        boxvault_cmd("serve", "--demo", "--port", str(port)),
        env=cli_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: urllib.request.urlopen(url + "/readyz", timeout=2).status == 200,
            timeout=90,
            what="serve --demo",
        )
        yield url, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        output = (tmp_path / "serve.log").read_text()
        assert "Traceback" not in output, output[-3000:]
        sandbox_port = int((data / "sandbox" / "port").read_text())
        with pytest.raises(OSError):  # the sandbox stopped with the server
            urllib.request.urlopen(f"http://127.0.0.1:{sandbox_port}/_sandbox/health", timeout=2)


def test_demo_sign_up_connect_box_back_up_two_users(
    demo: tuple[str, Path], smtp: tuple[Inbox, int], browser: Any, tmp_path: Path
) -> None:
    restic = require_binary("restic")
    url, data = demo
    seed = json.loads((data / "sandbox" / "seed.json").read_text())
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)

    # sign up and activate
    page.goto(url + "/accounts/signup/")
    page.fill("input[name=first_name]", "Nia")
    page.fill("input[name=last_name]", "Newcomer")
    page.fill("input[name=email]", "nia@demo.example")
    page.select_option("select[name=location]", "local")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/accounts/confirm-email/")
    page.goto(smtp[0].link(r"https?://\S+/accounts/confirm-email/\S+/"))
    page.goto(url + "/accounts/login/")
    page.fill("input[name=login]", "nia@demo.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(url + "/")

    # + Add Backup Task → Box → name → Authenticate in Box → the sandbox's consent page → back
    page.click("#add-task")
    page.select_option("select[name=service]", "box")
    page.fill("input[name=name]", "Demo enterprise")
    page.click("#authenticate")
    page.wait_for_url("**/api/oauth2/authorize?*")
    assert "Grant access to Box" in page.inner_text("body")
    page.select_option("select[name=user_id]", seed["admin_user_id"])
    page.click("#grant")
    page.wait_for_url(re.compile(r".*/tasks/\d+/$"))
    assert page.inner_text("#task-status") == "Connected"

    # activate two users, then Backup Now
    page.click("#task-users")
    chosen = [u for u in seed["users"]][:2]
    for u in chosen:
        page.check(f"input[name=box_user_id][value='{u['id']}']")
    page.select_option("#action", "activate")
    page.click("#apply-action")
    assert page.inner_text("main").count("Scheduled") >= 2
    for u in chosen:
        page.check(f"input[name=box_user_id][value='{u['id']}']")
    page.select_option("#action", "backup_now")
    page.click("#apply-action")
    assert "2 backup job(s) started." in page.inner_text("main")

    # the jobs page: progress while they run, then Succeeded
    page.click("nav >> text=Jobs")
    cards = page.locator("article.job")
    wait_for(lambda: cards.count() == 2, timeout=30, what="two job cards")
    seen: set[str | None] = set()
    progressed = False  # a running card showed items done while it ran (htmx refreshes it)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        statuses = [cards.nth(i).get_attribute("data-status") for i in range(cards.count())]
        seen.update(statuses)
        for i, status in enumerate(statuses):
            if status == "in_progress" and cards.nth(i).locator(".job-items").inner_text().strip() not in (
                "",
                "0",
            ):
                progressed = True
        if statuses == ["succeeded", "succeeded"]:
            break
        assert not {"failed", "canceled"} & set(statuses), page.inner_text("main")
        time.sleep(1)  # htmx polls the cards every 2 s
    assert statuses == ["succeeded", "succeeded"], page.inner_text("main")
    assert "in_progress" in seen and progressed, seen
    assert "Succeeded" in page.inner_text("main")

    # System Activity and its CSV
    page.click("nav >> text=Activity")
    assert "Demo enterprise" in page.inner_text("main")
    with page.expect_download() as info:
        page.click("#export-csv")
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    body = [r for r in rows[1:] if any("Demo enterprise" in c for c in r)]
    assert len(body) == 2, rows

    # the repository is sound for stock restic
    tasks = json.loads(
        run_cli(["task", "list", "--json", "--data", str(data)], env={"BOXVAULT_DATA": str(data)}).stdout
    )
    assert len(tasks) == 1 and tasks[0]["users_active"] == 2
    password = run_cli(
        ["task", "repo-password", str(tasks[0]["id"]), "--data", str(data)], env={"BOXVAULT_DATA": str(data)}
    ).stdout.strip()
    env = {**os.environ, "RESTIC_PASSWORD": password}
    snaps = json.loads(
        subprocess.run(
            [restic, "-r", tasks[0]["repository"], "--no-cache", "snapshots", "--json"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    assert sorted(s["paths"][0] for s in snaps) == sorted("/" + u["login"] for u in chosen)
    check = subprocess.run(
        [restic, "-r", tasks[0]["repository"], "--no-cache", "check", "--read-data"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # without the database: the KEK (here the generated <data>/kek) and the task's uuid open it too
    escrow = run_cli(
        ["task", "escrow-password", tasks[0]["uuid"]],
        env={"BOXVAULT_DATA": str(data), "BOXVAULT_KEK": "", "BOXVAULT_KEK_FILE": ""},
    ).stdout.strip()
    assert escrow != password
    listed = subprocess.run(
        [restic, "-r", tasks[0]["repository"], "--no-cache", "snapshots", "--json"],
        env={**os.environ, "RESTIC_PASSWORD": escrow}, capture_output=True, text=True,
    )  # fmt: skip
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 2, listed.stderr
