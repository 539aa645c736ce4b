"""Fixtures for the backup-task tests: queue capture, a task with users, a KEK per test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.sandbox_pool import shared_sandbox

# One small seeded Box sandbox for the whole session (3 users, a few files each).
sandbox = shared_sandbox(users=3, files_per_user=12, seed=5)


TEST_KEK = "dGVzdC1rZWstMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG0="  # base64 of 32 bytes, tests only


@pytest.fixture(autouse=True)
def isolated_kek_and_storage(settings: Any, tmp_path: Any) -> None:
    """A known KEK, and the data directory and repositories under this test's tmp_path."""
    settings.BOXVAULT_KEK = TEST_KEK
    settings.DATA_DIR = tmp_path / "data"
    settings.BOXVAULT_LOCATIONS = {"local": {"label": "Local", "url": str(tmp_path / "repos")}}


@pytest.fixture(autouse=True)
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Job ids the services put on the queue (no real queue in these tests)."""
    from boxvault.jobs import services

    sent: list[int] = []
    monkeypatch.setattr(services, "_send", sent.append)
    return sent


@pytest.fixture
def make_task(admin: Any) -> Callable[..., Any]:
    """A CCG task saved without talking to Box (for tests that need no sandbox)."""
    from boxvault.backups import services, vault
    from boxvault.backups.models import Task, TaskUser

    def make(
        account_admin: Any = None,
        name: str = "Daily Box",
        users: int = 3,
        api_url: str = "http://127.0.0.1:9",
        **fields: Any,
    ) -> Any:
        from boxvault.accounts.access import for_user

        access = for_user((account_admin or admin).user)
        task = services._new_task(access, name, Task.Kind.CCG, api_url)
        task.enterprise_id = "e1"
        task.status = Task.Status.CONNECTED
        for key, value in fields.items():
            setattr(task, key, value)
        vault.put_json(
            task, "credentials", {"client_id": "cid", "client_secret": "s3cr3t-ccg", "enterprise_id": "e1"}
        )
        task.save()
        for i in range(users):
            TaskUser.objects.create(
                task=task,
                box_user_id=str(100 + i),
                login=f"user{i}@box.example",
                name=f"User {i}",
                box_status="active",
            )
        return task

    return make
