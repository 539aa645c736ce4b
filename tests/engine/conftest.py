from __future__ import annotations

from pathlib import Path

import pytest

from boxvault.engine.repository import Repository
from boxvault.engine.storage import LocalBackend
from support.restic import PASSWORD


@pytest.fixture
def repo_path(tmp_path: Path) -> Path:
    return tmp_path / "repo"


@pytest.fixture
def repo(repo_path: Path) -> Repository:
    return Repository.init(LocalBackend(repo_path), PASSWORD)
