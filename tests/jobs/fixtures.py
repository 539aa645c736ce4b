"""Fixtures for the jobs and activity tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import jobs.handlers  # noqa: F401 - registers the test-only job kinds

VIEWER_OPERATIONS = ["view_tasks", "view_activity"]


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Job ids put on the queue, instead of a real queue."""
    from boxvault.jobs import services

    sent: list[int] = []
    monkeypatch.setattr(services, "_send", sent.append)
    return sent


@pytest.fixture(autouse=True)
def no_real_queue(queued: list[int]) -> None:
    """No test in these folders talks to the data directory's queue by accident."""


@pytest.fixture
def viewer(admin: Any) -> Any:
    """A custom member of Acme who may view jobs and activity but not cancel."""
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member

    return add_member(
        for_user(admin.user),
        email="vic@a.example",
        password="Correct-Horse-Battery-9",
        operations=VIEWER_OPERATIONS,
        services=["box"],
    )


class FakeTask:
    def __init__(self, pk: int, name: str) -> None:
        self.pk = pk
        self.name = name


@pytest.fixture
def make_job(admin: Any) -> Callable[..., Any]:
    from boxvault.jobs import services

    def make(kind: str = "test_sleep", account: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("task", FakeTask(7, "Daily Box"))
        kwargs.setdefault("box_user_id", "1001")
        kwargs.setdefault("box_user_login", "alice@box.example")
        return services.enqueue(account=account or admin.account, kind=kind, **kwargs)

    return make
