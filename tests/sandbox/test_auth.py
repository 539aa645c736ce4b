"""OAuth 2.0 code flow (authorize page, auto-approve), refresh rotation, JWT, revoke, expiry, As-User."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from box_sdk_gen import BoxAPIError, BoxClient, BoxJWTAuth, BoxOAuth, BoxSDKError, JWTConfig, OAuthConfig
from box_sdk_gen.box.token_storage import InMemoryTokenStorage
from box_sdk_gen.managers.authorization import AuthorizationManager
from box_sdk_gen.schemas.post_o_auth_2_token import PostOAuth2TokenGrantTypeField
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from support.sandbox import SandboxServer

REDIRECT = "http://127.0.0.1:9/callback"


def _code_from(location: str) -> str:
    query = parse_qs(urlparse(location).query)
    assert query.get("state") == ["xyz"]
    return query["code"][0]


def test_authorize_page_lets_one_pick_a_user_and_grant(sandbox: SandboxServer) -> None:
    user = sandbox.users[2]
    sandbox.auto_approve(None, redirect_uris=[REDIRECT])
    params = {
        "response_type": "code",
        "client_id": sandbox.client_id,
        "redirect_uri": REDIRECT,
        "state": "xyz",
    }
    page = requests.get(f"{sandbox.url}/api/oauth2/authorize", params=params, timeout=10)
    assert page.status_code == 200
    assert "Grant access" in page.text
    assert f'value="{user["id"]}"' in page.text
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    answer = requests.post(
        f"{sandbox.url}/api/oauth2/authorize",
        data={**form, "user_id": user["id"], "decision": "grant"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(REDIRECT)
    code = _code_from(answer.headers["location"])
    auth = BoxOAuth(OAuthConfig(client_id=sandbox.client_id, client_secret=sandbox.client_secret))
    auth.get_tokens_authorization_code_grant(code, network_session=sandbox.network_session())
    client = BoxClient(auth=auth, network_session=sandbox.network_session())
    assert client.users.get_user_me().id == user["id"]
    # a code is single use
    with pytest.raises(BoxAPIError) as err:
        auth.get_tokens_authorization_code_grant(code, network_session=sandbox.network_session())
    assert err.value.response_info.body["error"] == "invalid_grant"


def test_denied_authorization_redirects_with_error(sandbox: SandboxServer) -> None:
    sandbox.auto_approve(None, redirect_uris=[REDIRECT])
    answer = requests.post(
        f"{sandbox.url}/api/oauth2/authorize",
        data={"client_id": sandbox.client_id, "redirect_uri": REDIRECT, "state": "s", "decision": "deny"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    assert parse_qs(urlparse(answer.headers["location"]).query)["error"] == ["access_denied"]


def test_oauth_code_flow_with_refresh_rotation(sandbox: SandboxServer) -> None:
    user = sandbox.users[0]
    sandbox.auto_approve(user["id"], redirect_uris=[REDIRECT])
    try:
        storage = InMemoryTokenStorage()
        auth = BoxOAuth(
            OAuthConfig(
                client_id=sandbox.client_id, client_secret=sandbox.client_secret, token_storage=storage
            )
        )
        url = auth.get_authorize_url().replace(
            "https://account.box.com/api/oauth2", sandbox.url + "/api/oauth2"
        )
        answer = requests.get(url + "&state=xyz", allow_redirects=False, timeout=10)
        assert answer.status_code == 302
        ns = sandbox.network_session()
        first = auth.get_tokens_authorization_code_grant(
            _code_from(answer.headers["location"]), network_session=ns
        )
        assert first.refresh_token and first.expires_in == 3600
        client = BoxClient(auth=auth, network_session=ns)
        assert client.users.get_user_me().id == user["id"]
        second = auth.refresh_token(network_session=ns)
        assert second.refresh_token != first.refresh_token
        assert second.access_token != first.access_token
        assert client.users.get_user_me().id == user["id"]
        # the first refresh token was used once: a second use fails with invalid_grant
        manager = AuthorizationManager(network_session=ns)
        with pytest.raises(BoxAPIError) as err:
            manager.request_access_token(
                PostOAuth2TokenGrantTypeField.REFRESH_TOKEN,
                client_id=sandbox.client_id,
                client_secret=sandbox.client_secret,
                refresh_token=first.refresh_token,
            )
        assert err.value.response_info.status_code == 400
        assert err.value.response_info.body["error"] == "invalid_grant"
        # the rotated one still works, once
        third = auth.refresh_token(network_session=ns)
        assert third.access_token
        # revoke: the access token stops working
        auth.revoke_token(network_session=ns)
        raw = requests.get(
            f"{sandbox.url}/2.0/users/me",
            timeout=10,
            headers={"Authorization": f"Bearer {third.access_token}"},
        )
        assert raw.status_code == 401
        assert raw.json()["type"] == "error"
    finally:
        sandbox.auto_approve(None)


def test_wrong_client_secret_is_invalid_client(sandbox: SandboxServer) -> None:
    answer = requests.post(
        f"{sandbox.url}/oauth2/token",
        timeout=10,
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": "nope",
            "box_subject_type": "enterprise",
            "box_subject_id": sandbox.enterprise_id,
        },
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"
    unknown = requests.post(f"{sandbox.url}/oauth2/token", data={"grant_type": "password"}, timeout=10)
    assert unknown.status_code == 400 and unknown.json()["error"] in (
        "invalid_client",
        "unsupported_grant_type",
    )


def test_jwt_bearer_grant_with_registered_key(sandbox: SandboxServer) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    passphrase = "sandbox-pass"
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sandbox.control("PUT", "jwt_key", {"public_key_id": "k1", "public_key": public_pem})
    config = JWTConfig(
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        jwt_key_id="k1",
        private_key=private_pem,
        private_key_passphrase=passphrase,
        enterprise_id=sandbox.enterprise_id,
    )
    client = BoxClient(auth=BoxJWTAuth(config=config), network_session=sandbox.network_session())
    assert client.users.get_user_me().login.endswith("@boxdevedition.com")
    user = sandbox.users[1]
    user_auth = BoxJWTAuth(config=config).with_user_subject(user["id"])
    assert (
        BoxClient(auth=user_auth, network_session=sandbox.network_session()).users.get_user_me().id
        == user["id"]
    )
    # a jti is single use
    import jwt as pyjwt

    signing_key = serialization.load_pem_private_key(private_pem.encode(), passphrase.encode())
    claims = {
        "iss": sandbox.client_id,
        "sub": sandbox.enterprise_id,
        "box_sub_type": "enterprise",
        "aud": "https://api.box.com/oauth2/token",
        "jti": "jti-once-123456",
        "exp": int(time.time()) + 30,
    }
    assertion = pyjwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": "k1"})
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": assertion,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
    }
    assert requests.post(f"{sandbox.url}/oauth2/token", data=form, timeout=10).status_code == 200
    again = requests.post(f"{sandbox.url}/oauth2/token", data=form, timeout=10)
    assert again.status_code == 400 and "jti" in again.json()["error_description"]
    # a key the app never registered is refused
    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        .decode()
    )
    bad = JWTConfig(
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        jwt_key_id="k1",
        private_key=other,
        private_key_passphrase=passphrase,
        enterprise_id=sandbox.enterprise_id,
    )
    with pytest.raises((BoxAPIError, BoxSDKError)):
        BoxClient(auth=BoxJWTAuth(config=bad), network_session=sandbox.network_session()).users.get_user_me()


def test_developer_token_expiry_gives_401(sandbox: SandboxServer) -> None:
    token = sandbox.developer_token(sandbox.users[0]["id"], expires_in=1)
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{sandbox.url}/2.0/users/me", headers=headers, timeout=10).status_code == 200
    time.sleep(1.2)
    answer = requests.get(f"{sandbox.url}/2.0/users/me", headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"


def test_forced_token_expiry_is_survived_by_ccg(sandbox: SandboxServer) -> None:
    client = sandbox.ccg_client()
    assert client.users.get_user_me()
    assert sandbox.expire_tokens() >= 1
    # the SDK gets a 401, fetches a new CCG token and retries
    assert client.users.get_user_me().login.endswith("@boxdevedition.com")


def test_as_user_unknown_and_inactive(sandbox: SandboxServer) -> None:
    admin = sandbox.ccg_client()
    with pytest.raises(BoxAPIError) as err:
        admin.with_as_user_header("999999999").users.get_user_me()
    assert err.value.response_info.status_code == 404
    added = sandbox.add_user("inactive.person@example.com", "Inactive Person")
    sandbox.deactivate_user(added["id"])
    with pytest.raises(BoxAPIError) as err:
        admin.with_as_user_header(added["id"]).users.get_user_me()
    assert err.value.response_info.status_code == 403
    listed = {u.id: u.status for u in admin.users.get_users(limit=1000).entries}
    assert listed[added["id"]].value == "inactive"
    sandbox.delete_user(added["id"])
    assert added["id"] not in {u.id for u in admin.users.get_users(limit=1000).entries}
