"""Fixtures of the Box backup tests: a seeded Box sandbox over a real socket (tests/support/sandbox.py),
and the environment of a fresh repository."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from boxcheck import PASSWORD, Sandbox

from support.sandbox import SandboxServer


@pytest.fixture
def box_sandbox(new_sandbox: Callable[..., SandboxServer]) -> Callable[..., Sandbox]:
    """`box_sandbox(users=3, files_per_user=50, large_files=0, seed=1)` seeds and serves a sandbox."""

    def make(users: int = 3, files_per_user: int = 50, large_files: int = 0, seed: int = 1) -> Sandbox:
        return Sandbox(
            new_sandbox(users=users, files_per_user=files_per_user, seed=seed, large_files=large_files)
        )

    return make


@pytest.fixture
def repo_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `boxvault` and `restic`: a fresh repository path and its password."""
    return {
        "RESTIC_REPOSITORY": str(tmp_path / "repo"),
        "RESTIC_PASSWORD": PASSWORD,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PATH": os.environ.get("PATH", ""),
    }
