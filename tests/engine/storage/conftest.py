"""One conformance suite, four backends: emulators start once per session, each test gets a fresh prefix."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from boxvault.engine.storage import Backend, open_backend
from support.emulators import Emulator, azurite_blob, gcs_emulator, moto_s3

KINDS = ["local", "s3", "azure", "gs"]
OBJECT_STORES = ["s3", "azure", "gs"]


@pytest.fixture(scope="session")
def s3_emulator() -> Iterator[Emulator]:
    with moto_s3() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def azure_emulator() -> Iterator[Emulator]:
    with azurite_blob() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def gs_emulator() -> Iterator[Emulator]:
    with gcs_emulator() as emulator:
        yield emulator


@dataclasses.dataclass
class Target:
    """Where a test's repository lives: a fresh directory or a fresh prefix in the emulator's bucket."""

    kind: str
    location: str
    env: dict[str, str]
    emulator: Emulator | None

    def open(self, **env: str) -> Backend:
        return open_backend(self.location, {**self.env, **env})


def _target(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Target:
    if kind == "local":
        return Target(kind, str(tmp_path / "repo"), {}, None)
    emulator: Emulator = request.getfixturevalue(f"{kind}_emulator")
    return Target(kind, emulator.location(f"t-{uuid.uuid4().hex[:12]}"), emulator.env, emulator)


@pytest.fixture(params=KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return _target(request, request.param, tmp_path)


@pytest.fixture(params=OBJECT_STORES)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return _target(request, request.param, tmp_path)


@pytest.fixture
def backend(target: Target) -> Iterator[Backend]:
    opened = target.open()
    yield opened
    opened.close()
