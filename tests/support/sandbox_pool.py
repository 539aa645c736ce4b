"""The one way tests get a Box sandbox (a pytest plugin, registered by the root conftest).

- `sandbox_pool` (session): seeded sandboxes shared by every test area of this process, one server per seed
  specification; an area names its own with `sandbox = shared_sandbox(users=…, files_per_user=…, seed=…)`
  in its conftest or fixtures module, and two areas that ask for the same one share the server.
- `new_sandbox` (per test): `new_sandbox(users=…, …)` seeds and serves a sandbox of the test's own, for tests
  that change Box's state or set faults; stopped when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from support.sandbox import SandboxServer, running_sandbox


class SandboxPool:
    def __init__(self, factory: pytest.TempPathFactory, stack: ExitStack) -> None:
        self._factory = factory
        self._stack = stack
        self._servers: dict[tuple[tuple[str, Any], ...], SandboxServer] = {}

    def get(self, **spec: Any) -> SandboxServer:
        """The session's sandbox seeded with `spec` (`running_sandbox`'s arguments), started on first use."""
        key = tuple(sorted(spec.items()))
        if key not in self._servers:
            home = self._factory.mktemp("sandbox")
            self._servers[key] = self._stack.enter_context(running_sandbox(home, **spec))
        return self._servers[key]


@pytest.fixture(scope="session")
def sandbox_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxPool]:
    with ExitStack() as stack:
        yield SandboxPool(tmp_path_factory, stack)


@pytest.fixture
def new_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SandboxServer]]:
    with ExitStack() as stack:

        def make(**spec: Any) -> SandboxServer:
            return stack.enter_context(running_sandbox(tmp_path_factory.mktemp("own-sandbox"), **spec))

        yield make


def shared_sandbox(**spec: Any) -> Any:
    """A session fixture named `sandbox`: the pool's sandbox seeded with `spec`."""

    @pytest.fixture(scope="session", name="sandbox")
    def sandbox(sandbox_pool: SandboxPool) -> SandboxServer:
        return sandbox_pool.get(**spec)

    return sandbox
