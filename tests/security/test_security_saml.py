"""SAML single sign-on against a real IdP on loopback (tests/security/saml_idp.py): metadata by URL and by
file, sign-in of an existing member, refusals (wrong audience, expired, unsigned, replayed, another account's
e-mail, nobody's e-mail), create-on-first-sign-in, bad metadata, the "Sign in with SSO" page."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from boxvault.api.tokens import create_token
from boxvault.security.models import AuditEvent, SamlConfig
from portal.fixtures import login
from security.saml_idp import IdP, running_idp


@pytest.fixture
def idp(settings: Any) -> Iterator[IdP]:
    settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.0/8"]  # the IdP is on loopback; production refuses that
    with running_idp() as server:
        yield server


@pytest.fixture
def api(admin: Any) -> APIClient:
    _, key = create_token(admin.user, "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def slug(api: APIClient, idp: IdP) -> str:
    response = api.put(
        "/api/v1/security/saml/",
        {"enabled": True, "metadata_url": idp.url + "/metadata", "slug": "acme", "domains": ["a.example"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["idp_entity_id"] == idp.entity_id
    assert body["sp_entity_id"] == "http://testserver/accounts/saml/acme/metadata/"
    assert body["acs_url"] == "http://testserver/accounts/saml/acme/acs/"
    return "acme"


def start(client: Any, slug: str, idp: IdP) -> dict[str, str]:
    """The SP sends the browser to the IdP; the IdP answers with the form it would auto-post."""
    response = client.post(f"/accounts/saml/{slug}/login/", {"process": "login"})
    assert response.status_code == 302, response.content[:300]
    location = response["Location"]
    assert location.startswith(idp.url + "/sso?SAMLRequest=")
    with urllib.request.urlopen(location, timeout=10) as page:  # the real IdP, over loopback
        assert b"SAMLResponse" in page.read()
    return dict(idp.last_form)


def post_back(client: Any, form: dict[str, str]) -> Any:
    """The browser posts the IdP's form to the ACS, which hands over to allauth's finish step."""
    acs = urlsplit(form["action"]).path
    response = client.post(acs, {"SAMLResponse": form["SAMLResponse"], "RelayState": form["RelayState"]})
    assert response.status_code == 302
    return client.get(response["Location"])


def sign_in(client: Any, slug: str, idp: IdP) -> Any:
    return post_back(client, start(client, slug, idp))


def failed_rows() -> list[str]:
    return list(
        AuditEvent.objects.filter(activity="sign_in", status="failed", description__startswith="SAML")
        .order_by("id")
        .values_list("description", flat=True)
    )


def test_existing_member_signs_in(client: Any, slug: str, idp: IdP, restricted: Any) -> None:
    idp.email = "Rita@A.example"
    done = sign_in(client, slug, idp)
    assert done.status_code == 302 and done["Location"] == "/"
    me = client.get("/api/v1/me/").json()
    assert me["email"] == "rita@a.example"
    event = AuditEvent.objects.filter(description__startswith="SAML Sign In (OK)").get()
    assert event.account_id == restricted.account_id and event.performed_by == "rita@a.example"
    # the SP metadata allauth serves names the same ACS URL the page shows
    metadata = client.get(f"/accounts/saml/{slug}/metadata/")
    assert metadata.status_code == 200 and b"http://testserver/accounts/saml/acme/acs/" in metadata.content
    # a second sign-in reuses the link
    client.post("/accounts/logout/")
    assert sign_in(client, slug, idp)["Location"] == "/"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("wrong_audience", "wrong audience"),
        ("expired", "has expired"),
        ("unsigned", "not signed"),
    ],
)
def test_bad_responses_are_refused(
    client: Any, slug: str, idp: IdP, restricted: Any, mode: str, message: str
) -> None:
    idp.email, idp.mode = "rita@a.example", mode
    done = sign_in(client, slug, idp)
    assert done.status_code == 403
    assert message in done.content.decode()
    assert client.get("/api/v1/me/").status_code == 401  # not signed in
    rows = failed_rows()
    assert len(rows) == 1, rows
    assert AuditEvent.objects.get(description=rows[0]).account_id == restricted.account_id


def test_replayed_response_is_refused(client: Any, slug: str, idp: IdP, restricted: Any) -> None:
    idp.email = "rita@a.example"
    form = start(client, slug, idp)
    assert post_back(client, form)["Location"] == "/"
    client.post("/accounts/logout/")
    again = post_back(client, form)
    assert again.status_code == 403 and "does not answer a sign-in started here" in again.content.decode()
    assert client.get("/api/v1/me/").status_code == 401
    # and in a browser that never started a sign-in (a stolen response)
    from django.test import Client

    thief = Client()
    stolen = post_back(thief, form)
    assert stolen.status_code == 403
    assert len(failed_rows()) == 2 and all("InResponseTo" in row for row in failed_rows())


def test_email_of_another_account_is_refused(
    client: Any, slug: str, idp: IdP, restricted: Any, outsider: Any
) -> None:
    idp.email = "otto@b.example"  # Globex's administrator, asserted by Acme's IdP
    done = sign_in(client, slug, idp)
    assert done.status_code == 403
    page = done.content.decode()
    assert "does not belong to a member of this account" in page and "Globex" not in page
    assert client.get("/api/v1/me/").status_code == 401
    assert not outsider.user.socialaccount_set.exists()
    row = AuditEvent.objects.get(description__contains="is not a member of this account")
    assert row.account_id == restricted.account_id and row.status == "failed"


def test_unknown_email_refused_unless_create_members(
    client: Any, api: APIClient, slug: str, idp: IdP
) -> None:
    from boxvault.accounts.models import Member, User

    idp.email = "newbie@a.example"
    assert sign_in(client, slug, idp).status_code == 403
    assert not User.objects.filter(email="newbie@a.example").exists()
    body = {"create_members": True, "default_role": "custom", "default_operations": ["view_backups"]}
    assert api.put("/api/v1/security/saml/", body, format="json").status_code == 200
    done = sign_in(client, slug, idp)
    assert done.status_code == 302
    member = Member.objects.get(user__email="newbie@a.example")
    assert member.account.name == "Acme" and member.role == "custom" and member.operations == ["view_backups"]
    assert member.user.first_name == "Sam" and not member.user.has_usable_password()
    assert AuditEvent.objects.filter(
        activity="user_added", description__contains="first SAML sign-in"
    ).exists()


def test_disabled_saml_refuses(client: Any, api: APIClient, slug: str, idp: IdP, restricted: Any) -> None:
    idp.email = "rita@a.example"
    form = start(client, slug, idp)
    assert api.put("/api/v1/security/saml/", {"enabled": False}, format="json").status_code == 200
    assert not SamlConfig.objects.get().app
    acs = urlsplit(form["action"]).path
    assert client.post(acs, {"SAMLResponse": form["SAMLResponse"]}).status_code in (302, 404)
    assert client.get(f"/accounts/saml/{slug}/acs/finish/").status_code == 404
    assert client.get("/api/v1/me/").status_code == 401


def test_metadata_by_uploaded_file_on_the_page(client: Any, admin: Any, idp: IdP) -> None:
    login(client, admin.user)
    upload = SimpleUploadedFile("idp.xml", idp.metadata().encode(), content_type="text/xml")
    response = client.post(
        "/settings/security/saml/",
        {"enabled": "on", "metadata_file": upload, "slug": "acme-up", "default_role": "custom"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get("/settings/security/").content.decode()
    assert idp.entity_id in page
    assert re.search(r'id="sp-acs-url">http://testserver/accounts/saml/acme-up/acs/<', page)
    assert 'id="sp-entity-id">http://testserver/accounts/saml/acme-up/metadata/<' in page
    bad = client.post(
        "/settings/security/saml/",
        {
            "enabled": "on",
            "metadata_file": SimpleUploadedFile("x.xml", b"<html>no</html>"),
            "default_role": "custom",
        },
    )
    assert bad.status_code == 400 and "not SAML 2.0 IdP metadata" in bad.content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"enabled": True, "metadata_xml": "<nope/>"}, "not SAML 2.0 IdP metadata"),
        ({"enabled": True, "metadata_xml": "not xml at all"}, "not SAML 2.0 IdP metadata"),
        ({"enabled": True}, "Give the IdP metadata"),
        ({"metadata_url": "ftp://127.0.0.1/metadata"}, "http:// or https://"),
        ({"metadata_url": "http://10.1.2.3/metadata"}, "private or local network"),
        ({"metadata_url": "http://[::1]:9/metadata"}, "private or local network"),
        ({"slug": "Not A Slug!"}, "sign-in slug"),
        ({"domains": ["not a domain"]}, "Not a domain name"),
        ({"default_role": "owner"}, "owner"),
        ({"default_operations": ["fly"]}, "Unknown operation"),
    ],
)
def test_bad_saml_input(api: APIClient, settings: Any, body: dict[str, Any], message: str) -> None:
    settings.BOXVAULT_EGRESS_ALLOW = []  # production: loopback and private networks are refused
    response = api.put("/api/v1/security/saml/", body, format="json")
    assert response.status_code == 400, response.content
    assert message in str(response.json()), response.json()
    assert not AuditEvent.objects.filter(activity="security_changed", status="ok").exists()
    refused = AuditEvent.objects.filter(activity="security_changed", status="failed")
    # metadata that is refused leaves a failed row; plain form mistakes do not
    assert refused.count() == (1 if any(key.startswith("metadata") for key in body) else 0)


def test_loopback_metadata_url_refused_without_operator_allowance(api: APIClient, settings: Any) -> None:
    with running_idp() as server:
        settings.BOXVAULT_EGRESS_ALLOW = []
        refused = api.put("/api/v1/security/saml/", {"metadata_url": server.url + "/metadata"}, format="json")
        assert refused.status_code == 400 and "private or local" in refused.json()["detail"]
        settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.1/32"]
        allowed = api.put("/api/v1/security/saml/", {"metadata_url": server.url + "/metadata"}, format="json")
        assert allowed.status_code == 200 and allowed.json()["idp_entity_id"] == server.entity_id


def test_sign_in_with_sso_page(client: Any, slug: str, restricted: Any, outsider: Any) -> None:
    assert b'id="sso-link"' in client.get("/accounts/login/").content
    assert client.get("/sso/").status_code == 200
    for identifier in ("rita@a.example", "someone-new@a.example", "acme", "ACME"):
        response = client.post("/sso/", {"identifier": identifier})
        assert response.status_code == 302, identifier
        assert response["Location"] == "/accounts/saml/acme/login/?process=login"
    for identifier in ("otto@b.example", "x@unknown.example", "globex", "", "a" * 300):
        response = client.post("/sso/", {"identifier": identifier})
        assert response.status_code == 400 and b"No single sign-on is set up" in response.content
    # the shared sign-in page never lists tenants' IdPs
    assert b"Acme" not in client.get("/accounts/login/").content


def test_saml_settings_of_another_account_stay_apart(
    api: APIClient, slug: str, outsider: Any, idp: IdP
) -> None:
    _, key = create_token(outsider.user, "t")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert other.get("/api/v1/security/saml/").json()["slug"] is None
    taken = other.put("/api/v1/security/saml/", {"slug": "acme"}, format="json")
    assert taken.status_code == 400 and "taken" in taken.json()["detail"]
    clash = other.put("/api/v1/security/saml/", {"domains": ["a.example"]}, format="json")
    assert clash.status_code == 400 and "Another account" in clash.json()["detail"]


def test_purged_account_leaves_no_saml_app(slug: str, admin: Any) -> None:
    from allauth.socialaccount.models import SocialApp

    from boxvault.accounts.services import _purge

    assert SocialApp.objects.filter(client_id=slug).exists()
    _purge(admin.account)
    assert not SamlConfig.objects.exists()
    assert not SocialApp.objects.filter(client_id=slug).exists()
