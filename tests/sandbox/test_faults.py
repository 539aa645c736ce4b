"""Faults and limits through the control API: 429 + Retry-After, 5xx, resets, latency, rate limits, stats."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
import requests
from box_sdk_gen import BoxCCGAuth, BoxClient, CCGConfig
from box_sdk_gen.networking.network import NetworkSession
from box_sdk_gen.networking.retries import BoxRetryStrategy

from support.sandbox import SandboxServer


@pytest.fixture(autouse=True)
def _clear(sandbox: SandboxServer):
    sandbox.clear_faults()
    yield
    sandbox.clear_faults()
    sandbox.set_rate_limit(0, 0)


def fast_retry_client(sandbox: SandboxServer) -> BoxClient:
    ns = NetworkSession(
        base_urls=sandbox.base_urls(), retry_strategy=BoxRetryStrategy(retry_base_interval=0.01)
    )
    auth = BoxCCGAuth(
        config=CCGConfig(
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            enterprise_id=sandbox.enterprise_id,
        )
    )
    return BoxClient(auth=auth, network_session=ns)


def test_429_retry_after_is_honoured_by_the_sdk(sandbox: SandboxServer) -> None:
    client = sandbox.ccg_client()
    client.users.get_user_me()  # token fetched before the fault is armed
    sandbox.reset_stats()
    sandbox.set_faults(fail_next=[429], retry_after=2, paths=["/2.0/users/me"])
    raw = requests.get(f"{sandbox.url}/2.0/users/me", timeout=10)
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "2"
    assert raw.json()["code"] == "rate_limit_exceeded"
    sandbox.set_faults(fail_next=[429], retry_after=2, paths=["/2.0/users/me"])
    start = time.monotonic()
    assert client.users.get_user_me().id
    assert time.monotonic() - start >= 1.9  # the SDK slept for Retry-After, not its own back-off
    by_route = sandbox.stats()["requests"]["GET /2.0/users/me"]
    assert by_route["429"] == 2 and by_route["200"] == 1


def test_server_errors_are_retried(sandbox: SandboxServer) -> None:
    client = fast_retry_client(sandbox)
    client.users.get_user_me()
    sandbox.reset_stats()
    sandbox.set_faults(fail_next=[500, 502, 503], paths=["/2.0/users/me"])
    assert client.users.get_user_me().id
    counts = sandbox.stats()["requests"]["GET /2.0/users/me"]
    assert counts == {"500": 1, "502": 1, "503": 1, "200": 1}


def test_random_faults_are_reproducible_from_the_seed(sandbox: SandboxServer) -> None:
    def run() -> list[int]:
        sandbox.set_faults(seed=42, error_rates={"429": 0.2, "500": 0.1, "503": 0.1}, paths=["/2.0/users/me"])
        return [requests.get(f"{sandbox.url}/2.0/users/me", timeout=10).status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert {429, 500, 503} <= set(first) and 401 in first  # 401: no token, when no fault fires


def _largest_file_download(sandbox: SandboxServer) -> tuple[Any, str]:
    """The largest file of the first user's first folder, and its download URL (the redirect's target)."""
    client = sandbox.ccg_client().with_as_user_header(sandbox.users[0]["id"])
    folder = next(e for e in client.folders.get_folder_items("0").entries if e.type.value == "folder")
    entry = max(
        (e for e in client.folders.get_folder_items(folder.id, limit=1000).entries if e.type.value == "file"),
        key=lambda e: client.files.get_file_by_id(e.id).size,
    )
    token = sandbox.developer_token(sandbox.users[0]["id"])
    location = requests.get(
        f"{sandbox.url}/2.0/files/{entry.id}/content",
        allow_redirects=False,
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    ).headers["location"]
    return entry, str(location)


def test_connection_reset_mid_body_then_clean_download(sandbox: SandboxServer) -> None:
    entry, location = _largest_file_download(sandbox)
    sandbox.set_faults(reset_next=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.get(location, timeout=10).content
    whole = requests.get(location, timeout=10).content
    assert hashlib.sha1(whole).hexdigest() == entry.sha_1


def test_ignore_range_next_answers_ranged_downloads_whole(sandbox: SandboxServer) -> None:
    entry, location = _largest_file_download(sandbox)
    sandbox.set_faults(ignore_range_next=1)
    plain = requests.get(location, timeout=10)  # no Range: not counted
    ignored = requests.get(location, headers={"Range": "bytes=1-"}, timeout=10)
    honoured = requests.get(location, headers={"Range": "bytes=1-"}, timeout=10)
    assert plain.status_code == 200 and ignored.status_code == 200
    assert ignored.content == plain.content and hashlib.sha1(plain.content).hexdigest() == entry.sha_1
    assert honoured.status_code == 206 and honoured.content == plain.content[1:]


def test_not_ready_next_answers_content_requests_202(sandbox: SandboxServer) -> None:
    entry, _ = _largest_file_download(sandbox)
    token = sandbox.developer_token(sandbox.users[0]["id"])
    sandbox.set_faults(not_ready_next=1, retry_after=3)

    def ask() -> requests.Response:
        return requests.get(
            f"{sandbox.url}/2.0/files/{entry.id}/content",
            allow_redirects=False,
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        )

    first, second = ask(), ask()
    assert first.status_code == 202 and first.headers["Retry-After"] == "3"
    assert "location" not in first.headers
    assert second.status_code == 302 and f"/dl/{entry.id}/" in second.headers["location"]


def test_latency(sandbox: SandboxServer) -> None:
    sandbox.set_faults(latency_ms=300, paths=["/2.0/users"])
    start = time.monotonic()
    requests.get(f"{sandbox.url}/2.0/users/me", timeout=10)
    assert time.monotonic() - start >= 0.29
    start = time.monotonic()
    requests.get(f"{sandbox.url}/_sandbox/health", timeout=10)
    assert time.monotonic() - start < 0.25  # the control API is never slowed down


def test_token_expiry_fault(sandbox: SandboxServer) -> None:
    client = sandbox.ccg_client()
    client.users.get_user_me()
    sandbox.reset_stats()
    sandbox.set_faults(token_expiry_rate=1.0, paths=["/2.0/folders"])
    token = sandbox.developer_token(sandbox.users[0]["id"])
    r = requests.get(f"{sandbox.url}/2.0/folders/0", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 401
    sandbox.clear_faults()
    r = requests.get(f"{sandbox.url}/2.0/folders/0", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 401  # the token stays expired


def test_per_user_rate_limit(sandbox: SandboxServer) -> None:
    a = sandbox.developer_token(sandbox.users[0]["id"])
    b = sandbox.developer_token(sandbox.users[1]["id"])
    sandbox.set_rate_limit(requests_per_minute=5)
    statuses = [
        requests.get(f"{sandbox.url}/2.0/users/me", headers={"Authorization": f"Bearer {a}"}, timeout=10)
        for _ in range(6)
    ]
    assert [r.status_code for r in statuses] == [200] * 5 + [429]
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    other = requests.get(f"{sandbox.url}/2.0/users/me", headers={"Authorization": f"Bearer {b}"}, timeout=10)
    assert other.status_code == 200


def test_stats_count_downloads_and_bytes(sandbox: SandboxServer) -> None:
    client = sandbox.ccg_client().with_as_user_header(sandbox.users[1]["id"])
    folder = next(e for e in client.folders.get_folder_items("0").entries if e.type.value == "folder")
    entry = next(
        e for e in client.folders.get_folder_items(folder.id, limit=1000).entries if e.type.value == "file"
    )
    sandbox.reset_stats()
    data = client.downloads.download_file(entry.id).read()
    client.downloads.download_file(entry.id).read()
    stats = sandbox.stats()
    assert stats["downloads"][entry.id] == 2
    assert stats["bytes_served"] == 2 * len(data)
    assert stats["requests"]["GET /2.0/files/{file_id}/content"]["302"] == 2
    assert stats["requests"]["GET /dl/{file_id}/{version_id}/{expires}/{sig}"]["200"] == 2


def test_bad_fault_settings_are_400(sandbox: SandboxServer) -> None:
    for body in ({"error_rates": {"404": 0.5}}, {"reset_rate": 2}, {"latency_ms": "slow"}, {"bogus": 1}):
        r = requests.put(f"{sandbox.url}/_sandbox/faults", json=body, timeout=10)
        assert r.status_code == 400, body
        assert r.json()["type"] == "error"


def test_serve_rate_limit_flag(tmp_path) -> None:
    from support.sandbox import running_sandbox

    with running_sandbox(tmp_path, users=1, files_per_user=3, extra_args=["--rate-limit", "3"]) as sb:
        token = sb.developer_token(sb.users[0]["id"])
        codes = [
            requests.get(
                f"{sb.url}/2.0/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
            ).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        sb.set_rate_limit(0, 0)  # the control API turns it off again
        assert (
            requests.get(
                f"{sb.url}/2.0/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
            ).status_code
            == 200
        )
