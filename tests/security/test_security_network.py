"""IP restrictions over real sockets: a running `boxvault serve`, requests from different loopback source
addresses (127.0.0.1, 127.0.0.2, ::1), a trusted and an untrusted proxy header, the own-IP guard, the e-mail
to the administrators on each change (aiosmtpd) and the operator's CLI break-glass."""

from __future__ import annotations

import email
import http.client
import json
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from support import boxvault_cmd, cli_env, free_port, missing, run_cli, wait_for

pytestmark = [pytest.mark.slow]
PASSWORD = "Network-Admin-Pass-7"
EMAIL = "net@ip.example"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's API
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def bodies(self) -> list[str]:
        with self._lock:
            return [m.get_payload(decode=True).decode() for m in self.messages]


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


def _serve(tmp_path: Path, smtp_port: int, host: str) -> Iterator[tuple[str, int, dict[str, str]]]:
    port = free_port()
    env = {
        "BOXVAULT_DATA": str(tmp_path / "data"),
        "BOXVAULT_SMTP_HOST": "127.0.0.1",
        "BOXVAULT_SMTP_PORT": str(smtp_port),
        "BOXVAULT_TRUSTED_PROXIES": "127.0.0.3",
        "BOXVAULT_ALLOWED_HOSTS": "127.0.0.1,localhost,[::1]",
        "DATABASE_URL": "",
        "BOXVAULT_REDIS_URL": "",
    }
    run_cli(["account", "create", "--email", EMAIL, "--password-file", "-"], env=env, input=PASSWORD)
    token = json.loads(run_cli(["token", "create", "--email", EMAIL, "--json"], env=env).stdout)["token"]
    env_with_token = {**env, "TOKEN": token}
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        boxvault_cmd("serve", "--host", host, "--port", str(port)),
        env=cli_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url_host = f"[{host}]" if ":" in host else host
    try:
        wait_for(
            lambda: urllib.request.urlopen(f"http://{url_host}:{port}/readyz", timeout=2).status == 200,
            timeout=60,
            what="boxvault serve",
        )
        yield host, port, env_with_token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        assert "Traceback" not in (tmp_path / "serve.log").read_text()


def call(
    server: tuple[str, int, dict[str, str]],
    method: str,
    path: str,
    *,
    source: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request from the loopback address `source` (the socket binds to it before connecting)."""
    host, port, env = server
    conn = http.client.HTTPConnection(host, port, timeout=20, source_address=(source, 0))
    all_headers = {"Authorization": f"Token {env['TOKEN']}", "Content-Type": "application/json"}
    all_headers.update(headers or {})
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        conn.close()


@pytest.fixture
def v4(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[tuple[str, int, dict[str, str]]]:
    yield from _serve(tmp_path, smtp[1], "127.0.0.1")


def test_allow_list_over_loopback_addresses(
    v4: tuple[str, int, dict[str, str]], smtp: tuple[Inbox, int]
) -> None:
    inbox = smtp[0]
    rules = "/api/v1/security/ip-rules/"
    # the own-IP guard: the first entry would shut out the caller (127.0.0.1)
    status, body = call(
        v4, "POST", rules, source="127.0.0.1", body={"description": "lab", "cidr": "10.0.0.0/8"}
    )
    assert status == 400 and "would exclude your IP address 127.0.0.1" in body["detail"]
    status, body = call(
        v4, "POST", rules, source="127.0.0.1", body={"description": "office", "addresses": ["127.0.0.1, ::1"]}
    )
    assert status == 201, body
    wait_for(lambda: any("IP restrictions turned on" in b for b in inbox.bodies()), what="the change e-mail")
    assert "net@ip.example" in inbox.messages[0]["To"]

    assert call(v4, "GET", "/api/v1/me/", source="127.0.0.1")[0] == 200
    status, body = call(v4, "GET", "/api/v1/me/", source="127.0.0.2")
    assert status == 403 and "127.0.0.2" in body["detail"]
    # an untrusted peer cannot claim an allowed address
    status, body = call(
        v4, "GET", "/api/v1/me/", source="127.0.0.2", headers={"X-Forwarded-For": "127.0.0.1"}
    )
    assert status == 403 and "127.0.0.2" in body["detail"]
    # the trusted proxy (127.0.0.3) forwards the client's address, allowed or not
    assert (
        call(v4, "GET", "/api/v1/me/", source="127.0.0.3", headers={"X-Forwarded-For": "127.0.0.1"})[0] == 200
    )
    status, body = call(
        v4, "GET", "/api/v1/me/", source="127.0.0.3", headers={"X-Forwarded-For": "127.0.0.9"}
    )
    assert status == 403 and "127.0.0.9" in body["detail"]
    assert call(v4, "GET", "/api/v1/me/", source="127.0.0.3", headers={"X-Forwarded-For": "::1"})[0] == 200

    status, body = call(v4, "GET", "/api/v1/audit/?activity=access_denied", source="127.0.0.1")
    assert status == 200 and {row["ip"] for row in body["results"]} == {"127.0.0.2", "127.0.0.9"}
    assert body["count"] == 3

    # the operator lifts the restriction from the command line; the administrators hear of it
    env = v4[2]
    out = run_cli(["account", "ip-restrictions", "--email", EMAIL, "--disable", "--json"], env=env).stdout
    assert json.loads(out)["ip_restrictions"] is False
    assert call(v4, "GET", "/api/v1/me/", source="127.0.0.2")[0] == 200
    wait_for(
        lambda: any("turned off by the operator" in b for b in inbox.bodies()), what="the break-glass e-mail"
    )
    refused = run_cli(
        ["account", "ip-restrictions", "--email", "nobody@ip.example", "--disable"], env=env, check=False
    )
    assert refused.returncode == 1 and "No member" in refused.stderr
    assert run_cli(["account", "ip-restrictions", "--email", EMAIL], env=env, check=False).returncode == 1


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6_client(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    if not _has_ipv6_loopback():
        missing("an IPv6 loopback (::1)")
    for server in _serve(tmp_path, smtp[1], "::1"):
        rules = "/api/v1/security/ip-rules/"
        status, body = call(server, "POST", rules, source="::1", body={"cidr": "127.0.0.0/8"})
        assert status == 400 and "would exclude your IP address ::1" in body["detail"]
        status, body = call(
            server, "POST", rules, source="::1", body={"description": "v6", "cidr": "::1/128"}
        )
        assert status == 201, body
        assert call(server, "GET", "/api/v1/me/", source="::1")[0] == 200
        status, body = call(
            server, "PUT", "/api/v1/security/policy/", source="::1", body={"ip_restrictions": False}
        )
        assert status == 200 and body["ip_restrictions"] is False
