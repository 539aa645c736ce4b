from __future__ import annotations

from collections.abc import Callable

import pytest

from support.sandbox import SandboxServer
from support.sandbox_pool import shared_sandbox

# One seeded sandbox shared by the read-mostly tests of this directory.
sandbox = shared_sandbox(users=3, files_per_user=40, seed=7)


@pytest.fixture()
def fresh_sandbox(new_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """A sandbox of its own for tests that change state or set faults."""
    return new_sandbox(users=2, files_per_user=20, seed=11)
