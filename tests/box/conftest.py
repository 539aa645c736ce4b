"""Fixtures of the Box backup tests: a seeded Box sandbox over a real socket (tests/support/sandbox.py),
and the environment of a fresh repository."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from boxcheck import PASSWORD, Sandbox

from support.sandbox import running_sandbox


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
