"""A running Box sandbox for tests: `with running_sandbox(tmp_path) as sb: ...` (or the
   `sandbox_factory` idea).

It seeds a fresh data directory, starts `boxvault sandbox serve` as a subprocess on a free port, waits for
`/_sandbox/health`, and stops the server afterwards. The yielded `SandboxServer` knows the credentials of the
seeded enterprise and wraps the control API (stats, faults, mutate, users, tokens).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import boxvault_cmd, cli_env, free_port, run_cli, wait_for


@dataclass
class SandboxServer:
    url: str
    data_dir: Path
    client_id: str
    client_secret: str
    enterprise_id: str
    admin_user_id: str
    users: list[dict[str, str]]
    seed_info: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)

    # ---- control API -------------------------------------------------------------------------------------
    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/_sandbox/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"control API {method} {path} -> {e.code}: {e.read().decode()}") from None
        return json.loads(raw) if raw else None

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "stats")
        return result

    def reset_stats(self) -> None:
        self.control("DELETE", "stats")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """E.g. `set_faults(fail_next=[429])`, `set_faults(error_rates={"503": 0.2}, seed=3)`,
        `set_faults()`.
        """
        result: dict[str, Any] = self.control("PUT", "faults", faults)
        return result

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def mutate(self, fraction: float = 0.1, seed: int = 1) -> dict[str, Any]:
        result: dict[str, Any] = self.control("POST", "mutate", {"fraction": fraction, "seed": seed})
        return result

    def attack(
        self, mode: str, user: str, fraction: float = 0.5, seed: int = 1, **extra: Any
    ) -> dict[str, Any]:
        """`mutate` in an attack mode: "encrypt" (ransomware-like) or "delete" one user's files."""
        body = {"mode": mode, "user": user, "fraction": fraction, "seed": seed, **extra}
        result: dict[str, Any] = self.control("POST", "mutate", body)
        return result

    def set_rate_limit(self, requests_per_minute: int = 0, uploads_per_minute: int = 0) -> None:
        self.control(
            "PUT",
            "rate_limit",
            {"requests_per_minute": requests_per_minute, "uploads_per_minute": uploads_per_minute},
        )

    def add_user(self, login: str, name: str, role: str = "user", kind: str = "managed") -> dict[str, Any]:
        body = {"login": login, "name": name, "role": role, "kind": kind}
        result: dict[str, Any] = self.control("POST", "users", body)
        return result

    def deactivate_user(self, user_id: str) -> None:
        self.control("POST", f"users/{user_id}/deactivate")

    def activate_user(self, user_id: str) -> None:
        self.control("POST", f"users/{user_id}/activate")

    def delete_user(self, user_id: str) -> None:
        self.control("DELETE", f"users/{user_id}")

    def developer_token(self, user_id: str, expires_in: int = 3600) -> str:
        return str(
            self.control("POST", "tokens", {"user_id": user_id, "expires_in": expires_in})["access_token"]
        )

    def expire_tokens(self, user_id: str | None = None) -> int:
        return int(
            self.control("POST", "tokens/expire", {} if user_id is None else {"user_id": user_id})["expired"]
        )

    def auto_approve(self, user_id: str | None, redirect_uris: list[str] | None = None) -> None:
        body: dict[str, Any] = {"auto_approve_user_id": user_id}
        if redirect_uris is not None:
            body["redirect_uris"] = redirect_uris
        self.control("PUT", "oauth", body)

    # ---- SDK ---------------------------------------------------------------------------------------------
    def base_urls(self) -> Any:
        from box_sdk_gen.networking.base_urls import BaseUrls

        return BaseUrls(base_url=self.url, upload_url=self.url + "/api", oauth_2_url=self.url + "/api/oauth2")

    def network_session(self) -> Any:
        from box_sdk_gen.networking.network import NetworkSession

        return NetworkSession(base_urls=self.base_urls())

    def ccg_client(self, user_id: str | None = None) -> Any:
        """An official-SDK client: the service account (enterprise CCG), or `user_id` through CCG user
        subject.
        """
        from box_sdk_gen import BoxCCGAuth, BoxClient, CCGConfig

        config = CCGConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            enterprise_id=None if user_id else self.enterprise_id,
            user_id=user_id,
        )
        return BoxClient(auth=BoxCCGAuth(config=config), network_session=self.network_session())

    def start(self) -> None:
        """Starts `boxvault sandbox serve` on this server's port and data directory; waits until healthy."""
        port = self.url.rsplit(":", 1)[1]
        log = (self.data_dir.parent / "sandbox.log").open("ab")
        proc = subprocess.Popen(
            boxvault_cmd("sandbox", "serve", "--data", str(self.data_dir), "--port", port, *self.extra_args),
            env=cli_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.process = proc

        try:
            wait_for(
                lambda: proc.poll() is not None or _healthy(self.url), timeout=30, what="the Box sandbox"
            )
        except TimeoutError:
            pass
        if proc.poll() is not None or not _healthy(self.url):
            self.stop()
            text = (self.data_dir.parent / "sandbox.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"the Box sandbox did not start (exit code {proc.poll()}):\n{text}")

    def restart(self) -> None:
        """Stops and starts the server on the same data directory (state survives; faults and stats reset)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_sandbox/health", timeout=2) as resp:
        return bool(resp.status == 200)


@contextmanager
def running_sandbox(
    tmp_path: Path,
    users: int = 3,
    files_per_user: int = 50,
    seed: int = 1,
    large_files: int = 0,
    extra_args: list[str] | None = None,
) -> Iterator[SandboxServer]:
    """Seed `tmp_path/sandbox`, serve it on a free port, yield a `SandboxServer`, stop it afterwards."""
    data_dir = tmp_path / "sandbox"
    info = json.loads(
        run_cli(
            [
                "sandbox",
                "seed",
                "--data",
                str(data_dir),
                "--users",
                str(users),
                "--files-per-user",
                str(files_per_user),
                "--seed",
                str(seed),
                "--large-files",
                str(large_files),
                "--json",
            ]
        ).stdout
    )
    server = SandboxServer(
        url=f"http://127.0.0.1:{free_port()}",
        data_dir=data_dir,
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        enterprise_id=info["enterprise_id"],
        admin_user_id=info["admin_user_id"],
        users=info["users"],
        seed_info=info,
        extra_args=list(extra_args or []),
    )
    server.start()
    allow_box_api_url(server.url)
    try:
        yield server
    finally:
        server.stop()


def allow_box_api_url(url: str) -> None:
    """The operator's allow-list of Box API URLs (`BOXVAULT_BOX_API_URLS`), as `serve --demo` fills it: a task
    may use this sandbox. Read when used, so setting it here reaches the portal of this process (and the CLI
    processes started after it)."""
    current = [u for u in os.environ.get("BOXVAULT_BOX_API_URLS", "").split(",") if u]
    if url not in current:
        os.environ["BOXVAULT_BOX_API_URLS"] = ",".join([*current, url])
