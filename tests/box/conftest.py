"""A Box sandbox server per test module, started over a real socket, plus a repository factory.

(Until tests/support/sandbox.py is shared by the sandbox area, this starts the ASGI app under uvicorn
in a subprocess itself.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support import cli_env, free_port, wait_for

PASSWORD = "box-test-password"


@dataclass
class Sandbox:
    url: str
    data: Path
    creds: dict[str, Any] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def seed(self, users: int, files_per_user: int, large_files: int = 0, seed: int = 1) -> dict[str, Any]:
        self.creds = self.call(
            "POST",
            "/_sandbox/seed",
            {"users": users, "files_per_user": files_per_user, "large_files": large_files, "seed": seed},
        )
        return self.creds

    def mutate(self, fraction: float, seed: int = 1) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/_sandbox/mutate", {"fraction": fraction, "seed": seed})
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/_sandbox/stats")
        return result

    def reset_stats(self) -> None:
        self.call("DELETE", "/_sandbox/stats")

    def set_faults(self, **faults: Any) -> None:
        self.call("PUT", "/_sandbox/faults", faults)

    def clear_faults(self) -> None:
        self.call("DELETE", "/_sandbox/faults")

    def cli_args(self) -> list[str]:
        c = self.creds
        return [
            "--api-url",
            self.url,
            "--client-id",
            c["client_id"],
            "--client-secret",
            c["client_secret"],
            "--enterprise-id",
            c["enterprise_id"],
        ]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    data = tmp_path_factory.mktemp("sandbox")
    port = free_port()
    code = (
        "import sys, uvicorn; from pathlib import Path; from boxvault.sandbox.app import create_app; "
        "uvicorn.run(create_app(Path(sys.argv[1])), host='127.0.0.1', port=int(sys.argv[2]), "
        "log_level='warning')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(data), str(port)],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=open(data / "server.log", "wb"),
    )
    sb = Sandbox(f"http://127.0.0.1:{port}", data)
    try:
        wait_for(lambda: sb.call("GET", "/_sandbox/health")["status"] == "ok", 30, "the Box sandbox")
        yield sb
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def repo_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `boxvault` and `restic`: a fresh repository path and its password."""
    return {
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_PASSWORD": PASSWORD,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PATH": os.environ.get("PATH", ""),
    }
