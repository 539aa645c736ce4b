"""The shell: navigation by permission, support channels, health endpoints, friendly error pages."""

from __future__ import annotations

from typing import Any

from django.test import RequestFactory

from portal.fixtures import login


def test_navigation_follows_permissions(client: Any, admin: Any, restricted: Any, monkeypatch: Any) -> None:
    from boxvault.portal import context_processors

    # an entry whose page does not exist (yet) stays out of the menu
    navigation = [*context_processors.NAVIGATION, ("Moon base", "moon:base", None)]
    monkeypatch.setattr(context_processors, "NAVIGATION", navigation)
    page = login(client, admin.user).get("/settings/").content.decode()
    for label in ("Homepage", "Security audit", "Settings", "Users", "Support"):
        assert f">{label}</a>" in page
    assert "Moon base" not in page
    page = login(client, restricted.user).get("/support/").content.decode()
    assert ">Settings</a>" in page and ">Support</a>" in page
    assert ">Users</a>" not in page and ">Security audit</a>" not in page


def test_support_channels_come_from_settings(client: Any, admin: Any, settings: Any) -> None:
    settings.BOXVAULT_SUPPORT = {
        "email": ["help@corp.example"],
        "phone": ["+1 555 0100"],
        "ticket_url": "",
        "chat_url": "https://chat.corp.example/",
        "kb_url": "",
    }
    page = login(client, admin.user).get("/support/").content.decode()
    assert "help@corp.example" in page and "+1 555 0100" in page and "chat.corp.example" in page
    assert "Knowledge base" not in page and "Tickets" not in page


def test_health_endpoints(client: Any, db: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_friendly_404_and_403(client: Any, restricted: Any) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and b"Page not found" in response.content
    login(client, restricted.user)
    response = client.get("/users/")
    assert response.status_code == 403 and b"Access denied" in response.content
    assert b"Traceback" not in response.content
    assert client.get("/api/v1/nope/").json() == {"detail": "Not found."}


def test_500_page_has_no_traceback(db: Any) -> None:
    from boxvault.core.errorpages import server_error

    response = server_error(RequestFactory().get("/settings/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content and b"Traceback" not in response.content
    api = server_error(RequestFactory().get("/api/v1/account/"))
    assert api.status_code == 500 and b"Internal server error" in api.content


def test_static_css_is_served(client: Any, db: Any) -> None:
    response = client.get("/static/portal/boxvault.css")
    assert response.status_code == 200
    assert b"--brand" in b"".join(response.streaming_content)


def test_bad_host_and_csrf_failures_are_friendly(db: Any, admin: Any) -> None:
    from django.test import Client

    response = Client().get("/settings/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and b"Bad request" in response.content
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin.user, backend="allauth.account.auth_backends.AuthenticationBackend")
    response = strict.post("/settings/", {"name": "x", "email": "a@b.example"})
    assert response.status_code == 403 and b"form expired" in response.content
