"""REST API v1: token authentication, account, members, audit (JSON and CSV), schema and docs."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from rest_framework.test import APIClient

from boxvault.api.tokens import create_token


@pytest.fixture
def api(admin: Any) -> APIClient:
    _, key = create_token(admin.user, "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_token_auth_and_revocation(admin: Any) -> None:
    from boxvault.api.tokens import revoke_token

    token, key = create_token(admin.user, "script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = client.get("/api/v1/me/").json()
    assert me["email"] == "admin@a.example" and me["role"] == "admin" and "manage_users" in me["operations"]
    assert revoke_token(admin.user, token.pk)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token nope", "Bearer x", "Token \xff"])
def test_bad_authorization_headers(db: Any, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert response.json()["detail"]


def test_account_get_and_patch(api: APIClient, admin: Any) -> None:
    data = api.get("/api/v1/account/").json()
    assert data["name"] == "Acme" and data["location"] == "local" and data["trial_ends_at"]
    response = api.patch("/api/v1/account/", {"name": "Acme Labs", "location": "elsewhere"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Acme Labs"
    assert response.json()["location"] == "local"  # read-only


@pytest.mark.parametrize(
    "body", [{"name": ""}, {"name": "x" * 121}, {"name": ["list"]}, {"email": "nope"}, {"email": 5}]
)
def test_account_bad_input(api: APIClient, body: dict[str, Any]) -> None:
    response = api.patch("/api/v1/account/", body, format="json")
    assert response.status_code == 400
    assert response.json()


def test_members_crud(api: APIClient, admin: Any) -> None:
    response = api.post(
        "/api/v1/members/",
        {
            "email": "Carl@A.example",
            "first_name": "Carl",
            "operations": ["view_backups"],
            "services": ["box"],
            "password": "Strong-Carl-Pass-1",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    carl = response.json()
    assert carl["email"] == "carl@a.example" and carl["operations"] == ["view_backups"]
    assert carl["two_factor"] is False
    listing = api.get("/api/v1/members/").json()
    assert listing["count"] == 2 and {m["email"] for m in listing["results"]} == {
        "admin@a.example",
        "carl@a.example",
    }
    assert api.get("/api/v1/members/?role=admin").json()["count"] == 1
    response = api.patch(
        f"/api/v1/members/{carl['id']}/", {"operations": ["restore", "export"]}, format="json"
    )
    assert response.status_code == 200 and response.json()["operations"] == ["export", "restore"]
    assert api.delete(f"/api/v1/members/{carl['id']}/").status_code == 204
    assert api.get(f"/api/v1/members/{carl['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "email"),
        ({"email": ""}, "email"),
        ({"email": "admin@a.example"}, "already a user of this account"),
        ({"email": "x@a.example", "operations": "restore"}, "operations"),
        ({"email": "x@a.example", "operations": ["fly"]}, "operations"),
        ({"email": "x@a.example", "services": ["dropbox"]}, "services"),
        ({"email": "x@a.example", "role": "god"}, "role"),
        ({"email": "x@a.example", "password": "short"}, "too short"),
        ({"email": "x@a.example", "first_name": "x" * 151}, "first_name"),
        ({"email": 42}, "email"),
    ],
)
def test_members_bad_input(api: APIClient, body: dict[str, Any], fragment: str) -> None:
    response = api.post("/api/v1/members/", body, format="json")
    assert response.status_code == 400
    assert fragment in response.content.decode()


def test_members_malformed_json(api: APIClient) -> None:
    response = api.generic("POST", "/api/v1/members/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]


def test_last_admin_cannot_be_demoted_via_api(api: APIClient, admin: Any) -> None:
    response = api.patch(f"/api/v1/members/{admin.pk}/", {"role": "custom"}, format="json")
    assert response.status_code == 400 and "administrator" in response.content.decode()


def test_audit_pagination_and_csv(api: APIClient, admin: Any) -> None:
    from boxvault.security.models import AuditEvent
    from boxvault.security.services import record

    for i in range(60):
        record(admin.account, AuditEvent.Activity.SETTINGS_CHANGED, f"change {i}", actor=admin.user)
    page1 = api.get("/api/v1/audit/").json()
    assert page1["count"] == 62 and len(page1["results"]) == 50 and page1["next"]
    assert len(api.get("/api/v1/audit/?page=2").json()["results"]) == 12
    assert api.get("/api/v1/audit/?page=99").status_code == 404
    response = api.get("/api/v1/audit/?format=csv&activity=settings_changed")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 60 and rows[0]["Performed by"] == "admin@a.example"


def test_schema_and_docs_are_local(client: Any, db: Any) -> None:
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/account/", "/api/v1/members/", "/api/v1/members/{id}/", "/api/v1/audit/"):
        assert path in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()


def test_token_page_create_and_revoke(client: Any, restricted: Any) -> None:
    from boxvault.api.models import ApiToken

    client.force_login(restricted.user, backend="allauth.account.auth_backends.AuthenticationBackend")
    assert "required" in client.post("/settings/tokens/", {"name": ""}).content.decode()
    page = client.post("/settings/tokens/", {"name": "laptop"}).content.decode()
    key = page.split('id="new-token">')[1].split("<")[0]
    token = ApiToken.objects.get(user=restricted.user)
    assert key.startswith(token.prefix) and token.digest != key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/me/").json()["operations"] == ["view_settings", "view_support"]
    assert api.get("/api/v1/members/").status_code == 403
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"operations": "restore"},
        {"operations": ["fly"]},
        {"role": 5},
        {"services": [None]},
        {"first_name": "x" * 151},
    ],
)
def test_member_patch_bad_input(api: APIClient, restricted: Any, body: dict[str, Any]) -> None:
    response = api.patch(f"/api/v1/members/{restricted.pk}/", body, format="json")
    assert response.status_code == 400 and response.json()


def test_cannot_delete_oneself_via_api(api: APIClient, admin: Any) -> None:
    response = api.delete(f"/api/v1/members/{admin.pk}/")
    assert response.status_code == 400 and "yourself" in response.json()["detail"]
