"""Authentication through the SDK against the sandbox: OAuth refresh rotation serialised across threads
and across token-storage instances (two workers), and JWT."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError
from boxcheck import Sandbox
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from boxvault.box.connect import BoxConnection, JWTCredentials, Limits, OAuthCredentials, connect
from boxvault.box.tokens import FileRefreshLock, FileTokenStorage, new_fernet_key
from boxvault.box.users import list_users


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _authorization_code(sandbox: Sandbox, user_id: str) -> str:
    redirect = "http://127.0.0.1:9/callback"
    sandbox.call("PUT", "/_sandbox/oauth", {"auto_approve_user_id": user_id, "redirect_uris": [redirect]})
    query = urllib.parse.urlencode(
        {
            "client_id": sandbox.creds["client_id"],
            "response_type": "code",
            "redirect_uri": redirect,
            "state": "s1",
        }
    )
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(f"{sandbox.url}/api/oauth2/authorize?{query}")
    location = answer.value.headers["Location"]
    params = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    assert params["state"] == ["s1"]
    return params["code"][0]


def _oauth(sandbox: Sandbox, path: Path, key: bytes) -> BoxConnection:
    storage = FileTokenStorage(path, key)
    return connect(
        OAuthCredentials(sandbox.creds["client_id"], sandbox.creds["client_secret"], storage),
        api_url=sandbox.url,
        limits=Limits(per_user_rps=0, retry_base_interval=0.01),
        lock=FileRefreshLock(str(path) + ".lock"),
    )


def test_oauth_refresh_rotation_is_serialised(box_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sandbox = box_sandbox(users=1, files_per_user=5, large_files=0)
    creds = sandbox.creds
    user = creds["users"][0]
    key = new_fernet_key()
    tokens = tmp_path / "tokens.json"
    first = _oauth(sandbox, tokens, key)
    inner = first.auth.inner
    inner.get_tokens_authorization_code_grant(
        _authorization_code(sandbox, user["id"]),  # type: ignore[attr-defined]
        network_session=first.session,
    )
    assert first.client.users.get_user_me().id == user["id"]
    second = _oauth(sandbox, tokens, key)  # another worker sharing the stored grant
    assert second.client.users.get_user_me().id == user["id"]

    for round_ in range(2):
        sandbox.call("POST", "/_sandbox/tokens/expire", {})
        before = first.auth.refreshes + second.auth.refreshes
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def call(conn: BoxConnection) -> None:
            try:
                barrier.wait()
                assert conn.client.users.get_user_me().id == user["id"]
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=call, args=(first if i % 2 else second,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], errors
        # eight requests failed with 401 at once; exactly one refresh went to Box
        assert first.auth.refreshes + second.auth.refreshes == before + 1, round_
    stored = FileTokenStorage(tokens, key).get()
    assert stored is not None and stored.refresh_token
    assert b"refresh_token" not in tokens.read_bytes()  # encrypted at rest


def test_reused_refresh_token_fails_as_on_box(box_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    """The sandbox is strict like Box: the unserialised SDK loses the grant when two refreshes race."""
    sandbox = box_sandbox(users=1, files_per_user=2, large_files=0, seed=2)
    creds = sandbox.creds
    conn = _oauth(sandbox, tmp_path / "t.json", new_fernet_key())
    conn.auth.inner.get_tokens_authorization_code_grant(  # type: ignore[attr-defined]
        _authorization_code(sandbox, creds["users"][0]["id"]), network_session=conn.session
    )
    old = conn.auth.storage.get()
    assert old is not None
    conn.auth.inner.refresh_token(network_session=conn.session)
    conn.auth.storage.store(old)  # a worker that still holds the previous refresh token
    with pytest.raises((BoxAPIError, BoxSDKError)):
        conn.auth.inner.refresh_token(network_session=conn.session)


def test_jwt_connects(box_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = box_sandbox(users=2, files_per_user=2, large_files=0, seed=4)
    creds = sandbox.creds
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sandbox.call("PUT", "/_sandbox/jwt_key", {"public_key_id": "kid1", "public_key": public_pem})
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass"),
    ).decode()
    config = {
        "boxAppSettings": {
            "clientID": creds["client_id"],
            "clientSecret": creds["client_secret"],
            "appAuth": {"publicKeyID": "kid1", "privateKey": private_pem, "passphrase": "pass"},
        },
        "enterpriseID": creds["enterprise_id"],
    }
    conn = connect(JWTCredentials(json.dumps(config)), api_url=sandbox.url, limits=Limits(per_user_rps=0))
    users = list_users(conn.client)
    assert {u["id"] for u in creds["users"]} <= {u.id for u in users}
    assert conn.enterprise_id == creds["enterprise_id"]


def test_oauth_grant_backs_up_its_own_user(box_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    from boxcheck import sdk_client, sdk_files

    from boxvault.box.backup import BackupOptions, run_backup
    from boxvault.box.blobcache import BlobCache
    from boxvault.box.catalog import SqliteCatalog
    from boxvault.box.state import StateStore
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    sandbox = box_sandbox(users=2, files_per_user=15, large_files=0, seed=6)
    user = sandbox.creds["users"][1]
    conn = _oauth(sandbox, tmp_path / "t.json", new_fernet_key())
    conn.auth.inner.get_tokens_authorization_code_grant(  # type: ignore[attr-defined]
        _authorization_code(sandbox, user["id"]), network_session=conn.session
    )
    repo = Repository.init(open_backend(str(tmp_path / "repo")), "pw")
    state_dir = tmp_path / "state"
    report = run_backup(
        conn,
        repo,
        options=BackupOptions(enterprise_id=sandbox.creds["enterprise_id"]),
        catalog=SqliteCatalog(state_dir / "c.sqlite"),
        state=StateStore(state_dir / "s.sqlite"),
        cache=BlobCache(state_dir / "b.sqlite", repo.id),
    )
    assert report.status == "succeeded", report.to_json()
    (ur,) = report.users
    assert ur.box_user_id == user["id"] and ur.login == user["login"]
    assert ur.files == len(sdk_files(sdk_client(sandbox.url, sandbox.creds, user["id"])))
    (snap,) = repo.list_snapshots()
    assert snap.paths == [f"/{user['login']}"] and f"user:{user['id']}" in snap.tags
