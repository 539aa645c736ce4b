"""Fixtures shared by the portal's test folders (portal, accounts, security, api); each conftest
star-imports this.

Also marks every test that touches the database with `db`, so CI can run exactly those again on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

PASSWORD = "Correct-Horse-Battery-9"
RESTRICTED_OPERATIONS = ["view_settings", "view_support"]
_DB_FIXTURES = {
    "db",
    "transactional_db",
    "live_server",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses_db = (
            bool(_DB_FIXTURES & set(getattr(item, "fixturenames", ())))
            or item.get_closest_marker("django_db") is not None
        )
        if uses_db and item.get_closest_marker("db") is None:
            item.add_marker(pytest.mark.db)


@pytest.fixture(autouse=True)
def fast_hashing(settings: Any) -> None:
    # A fast hasher for in-process tests only (the browser test runs a real server with the real one).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_account(db: Any) -> Callable[..., Any]:
    from boxvault.accounts.services import create_account_with_admin

    def make(email: str = "admin@a.example", name: str = "Acme") -> Any:
        return create_account_with_admin(
            email=email, password=PASSWORD, name=name, first_name="Ada", last_name="Admin"
        )

    return make


@pytest.fixture
def admin(make_account: Callable[..., Any]) -> Any:
    """The administrator member of account "Acme"."""
    return make_account()


@pytest.fixture
def restricted(admin: Any) -> Any:
    """A custom member of Acme allowed only to view settings and support."""
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member

    return add_member(
        for_user(admin.user),
        email="rita@a.example",
        password=PASSWORD,
        operations=RESTRICTED_OPERATIONS,
        services=["box"],
    )


@pytest.fixture
def outsider(make_account: Callable[..., Any], admin: Any) -> Any:
    """The administrator of another tenant, "Globex"."""
    return make_account(email="otto@b.example", name="Globex")


def login(client: Any, user: Any) -> Any:
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client


@pytest.fixture
def as_user(client: Any) -> Callable[[Any], Any]:
    return lambda member: login(client, member.user)
