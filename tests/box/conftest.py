"""Fixtures of the Box backup tests: a seeded Box sandbox over a real socket (tests/support/sandbox.py),
and the environment of a fresh repository."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from support.sandbox import SandboxServer, running_sandbox

PASSWORD = "box-test-password"


class Sandbox:
    """The shared `SandboxServer` plus what these tests use often."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.url
        self.creds: dict[str, Any] = server.seed_info

    def call(self, method: str, path: str, body: Any = None) -> Any:
        assert path.startswith("/_sandbox/")
        return self.server.control(method, path[len("/_sandbox/") :], body)

    def stats(self) -> dict[str, Any]:
        return self.server.stats()

    def reset_stats(self) -> None:
        self.server.reset_stats()

    def set_faults(self, **faults: Any) -> None:
        self.server.set_faults(**faults)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    def mutate(self, fraction: float, seed: int = 1) -> dict[str, Any]:
        return self.server.mutate(fraction, seed)

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


@pytest.fixture
def box_sandbox(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """`box_sandbox(users=3, files_per_user=50, large_files=0, seed=1)` seeds and serves a sandbox."""
    with ExitStack() as stack:
        count = 0

        def make(users: int = 3, files_per_user: int = 50, large_files: int = 0, seed: int = 1) -> Sandbox:
            nonlocal count
            count += 1
            home = tmp_path / f"box-sandbox-{count}"
            home.mkdir()
            server = stack.enter_context(
                running_sandbox(
                    home, users=users, files_per_user=files_per_user, seed=seed, large_files=large_files
                )
            )
            return Sandbox(server)

        yield make


@pytest.fixture
def repo_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `boxvault` and `restic`: a fresh repository path and its password."""
    return {
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_PASSWORD": PASSWORD,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PATH": os.environ.get("PATH", ""),
    }
