from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.sandbox import SandboxServer, running_sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """One seeded sandbox shared by the read-mostly tests of this directory."""
    with running_sandbox(tmp_path_factory.mktemp("sandbox"), users=3, files_per_user=40, seed=7) as sb:
        yield sb


@pytest.fixture()
def fresh_sandbox(tmp_path) -> Iterator[SandboxServer]:
    """A sandbox of its own for tests that change state or set faults."""
    with running_sandbox(tmp_path, users=2, files_per_user=20, seed=11) as sb:
        yield sb
