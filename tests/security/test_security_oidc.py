"""Google, Microsoft and generic OpenID Connect sign-in through allauth, end to end against a local OpenID
Connect provider (oidc-provider-mock) on loopback. Only in these tests are the Google and Microsoft adapter
classes' own endpoint URLs pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from boxvault.accounts.models import Member

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")


@pytest.fixture
def provider() -> Iterator[str]:
    users = [
        oidc_provider_mock.User(
            sub="rita",
            claims={"email": "rita@a.example", "email_verified": True, "given_name": "Rita"},
        ),
        oidc_provider_mock.User(
            sub="rita-unverified", claims={"email": "rita@a.example", "email_verified": False}
        ),
        oidc_provider_mock.User(
            sub="carol",
            claims={
                "email": "carol@c.example",
                "email_verified": True,
                "given_name": "Carol",
                "family_name": "Cloud",
            },
        ),
        oidc_provider_mock.User(
            sub="ms-rita",
            claims={"id": "ms-rita", "mail": "rita@a.example", "displayName": "Rita R", "givenName": "Rita"},
        ),
    ]
    with oidc_provider_mock.run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def oidc(settings: Any, provider: str) -> str:
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "oidc",
                    "name": "Company IdP",
                    "client_id": "boxvault",
                    "secret": "s3cret",
                    "settings": {"server_url": provider},
                }
            ]
        }
    }
    return provider


def sign_in(client: Any, start: str, provider: str, sub: str) -> Any:
    """POST the start URL, choose `sub` on the provider's consent form, follow the callback."""
    response = client.post(start, {"process": "login"})
    assert response.status_code == 302, response.content[:300]
    authorize = response["Location"]
    assert authorize.startswith(provider + "/oauth2/authorize")
    consent = httpx.post(authorize, data={"sub": sub}, timeout=10)
    assert consent.status_code == 302, consent.text[:300]
    back = urlsplit(consent.headers["location"])
    assert back.netloc == "testserver"
    return client.get(f"{back.path}?{back.query}")


def test_providers_hidden_until_configured(client: Any, db: Any, settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {}
    page = client.get("/accounts/login/").content.decode()
    assert "Company IdP" not in page and "/accounts/oidc/" not in page


def test_existing_member_signs_in_with_oidc(client: Any, oidc: str, restricted: Any) -> None:
    assert "Company IdP" in client.get("/accounts/login/").content.decode()
    done = sign_in(client, "/accounts/oidc/oidc/login/", oidc, "rita")
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/api/v1/me/").json()["email"] == "rita@a.example"
    # user management shows how she signs in; she sees (and may remove) the link
    admin = Member.objects.get(user__email="admin@a.example")
    from boxvault.accounts.services import member_with_flags

    rows = {r["member"].user.email: r for r in member_with_flags([restricted, admin])}
    assert (
        rows["rita@a.example"]["sign_in"] == "E-mail, OpenID Connect"
        and rows["rita@a.example"]["mfa"] is False
    )
    assert "Company IdP" in client.get("/accounts/3rdparty/").content.decode()
    from rest_framework.test import APIClient

    from boxvault.api.tokens import create_token

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {create_token(admin.user, 't')[1]}")
    listed = {m["email"]: m for m in api.get("/api/v1/members/").json()["results"]}
    assert listed["rita@a.example"]["sign_in"] == ["E-mail", "OpenID Connect"]
    assert (
        listed["admin@a.example"]["sign_in"] == ["E-mail"]
        and listed["admin@a.example"]["two_factor"] is False
    )


def test_unverified_email_never_links(client: Any, oidc: str, restricted: Any) -> None:
    done = sign_in(client, "/accounts/oidc/oidc/login/", oidc, "rita-unverified")
    # not signed in as Rita: allauth asks for the sign-up form instead
    assert done.status_code == 302 and done["Location"] == "/accounts/3rdparty/signup/"
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert not restricted.user.socialaccount_set.exists()


def test_new_user_signs_up_with_oidc_and_gets_an_account(client: Any, oidc: str, db: Any) -> None:
    done = sign_in(client, "/accounts/oidc/oidc/login/", oidc, "carol")
    assert done["Location"] == "/accounts/3rdparty/signup/"
    form = client.get("/accounts/3rdparty/signup/").content.decode()
    assert "carol@c.example" in form
    response = client.post(
        "/accounts/3rdparty/signup/",
        {"email": "carol@c.example", "first_name": "Carol", "last_name": "Cloud", "location": "local"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    member = Member.objects.get(user__email="carol@c.example")
    assert member.role == "admin" and member.account.name == "Carol Cloud"
    assert client.get("/api/v1/me/").json()["email"] == "carol@c.example"


def test_signup_closed_refuses_new_social_users(client: Any, oidc: str, settings: Any, db: Any) -> None:
    settings.BOXVAULT_SIGNUP_OPEN = False
    done = sign_in(client, "/accounts/oidc/oidc/login/", oidc, "carol")
    assert done.status_code == 200 and b"Sign Up Closed" in done.content
    assert not Member.objects.filter(user__email="carol@c.example").exists()


def test_google_sign_in(client: Any, settings: Any, provider: str, restricted: Any, monkeypatch: Any) -> None:
    from allauth.socialaccount.providers.google import views as google

    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {
            "APPS": [{"client_id": "boxvault-google", "secret": "g", "key": ""}],
            "SCOPE": ["openid", "email"],
        }
    }
    monkeypatch.setattr(google.GoogleOAuth2Adapter, "authorize_url", provider + "/oauth2/authorize")
    monkeypatch.setattr(google.GoogleOAuth2Adapter, "access_token_url", provider + "/oauth2/token")
    monkeypatch.setattr(google, "ID_TOKEN_ISSUER", provider)
    monkeypatch.setattr(google, "CERTS_URL", provider + "/jwks")
    assert "Google" in client.get("/accounts/login/").content.decode()
    done = sign_in(client, "/accounts/google/login/", provider, "rita")
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/api/v1/me/").json()["email"] == "rita@a.example"
    assert restricted.user.socialaccount_set.get().provider == "google"


def test_microsoft_never_links_by_email(
    client: Any, settings: Any, provider: str, restricted: Any, monkeypatch: Any
) -> None:
    """Microsoft does not vouch for e-mail addresses: its sign-in never takes over an existing member."""
    from allauth.socialaccount.providers.microsoft import views as microsoft

    settings.SOCIALACCOUNT_PROVIDERS = {"microsoft": {"APPS": [{"client_id": "boxvault-ms", "secret": "m"}]}}
    adapter = microsoft.MicrosoftGraphOAuth2Adapter
    monkeypatch.setattr(adapter, "authorize_url", property(lambda self: provider + "/oauth2/authorize"))
    monkeypatch.setattr(adapter, "access_token_url", property(lambda self: provider + "/oauth2/token"))
    monkeypatch.setattr(adapter, "profile_url", property(lambda self: provider + "/userinfo"))
    assert "Microsoft" in client.get("/accounts/login/").content.decode()
    done = sign_in(client, "/accounts/microsoft/login/", provider, "ms-rita")
    assert done.status_code == 302 and done["Location"] == "/accounts/3rdparty/signup/"
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert not restricted.user.socialaccount_set.exists()
