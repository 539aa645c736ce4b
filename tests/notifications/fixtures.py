"""Fixtures for the notification tests: a member allowed to manage notifications, an API client."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def notifier(admin: Any) -> Any:
    """A custom member of Acme who may manage notifications (and nothing about backups)."""
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member

    return add_member(
        for_user(admin.user),
        email="nora@a.example",
        password="Correct-Horse-Battery-9",
        operations=["manage_notifications"],
        services=["box"],
    )


def call(client: Any, method: str, url: str, body: Any = None) -> Any:
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, body if body is not None else {}, content_type="application/json")
