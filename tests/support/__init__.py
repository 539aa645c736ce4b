"""Helpers shared by every test area: required-or-skipped services, free ports, subprocess CLI runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SRC = REPO_ROOT / "src"
SHARED = REPO_ROOT.parent / "shared"
REQUIRED = os.environ.get("BOXVAULT_TEST_REQUIRE_SERVICES") == "1"


def missing(what: str) -> None:
    """Skip on a newcomer's machine; fail in CI, where every service must be present."""
    if REQUIRED:
        pytest.fail(f"{what} is required in CI (BOXVAULT_TEST_REQUIRE_SERVICES=1) but is not available")
    pytest.skip(f"{what} not available")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"the `{name}` binary")
    assert path is not None
    return path


def skip_on_in_memory_sqlite(covered_by: str = "PostgreSQL runs this") -> None:
    """Skip a test whose threads write and read the database at once: Django's shared-cache in-memory SQLite
    test database locks whole tables and fails at once ("database table is locked") instead of waiting."""
    from django.db import connection

    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(f"shared-cache in-memory SQLite locks tables instead of waiting; {covered_by}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - a service that is still starting answers with anything
            pass
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra or {})
    return env


def boxvault_cmd(*args: str) -> list[str]:
    """The `boxvault` CLI as a subprocess command, from this checkout whatever is installed."""
    return [sys.executable, "-m", "boxvault", *args]


def run_cli(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    check: bool = True,
    input: str | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        boxvault_cmd(*args), env=cli_env(env), capture_output=True, text=True, input=input, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"boxvault {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
