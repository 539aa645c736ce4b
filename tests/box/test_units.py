"""Pure parts of the Box backup: item mapping, user diffs, blob cache, rate limiter, token storage."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from box_sdk_gen.schemas.access_token import AccessToken

from boxvault.box.blobcache import BlobCache, CachedContent
from boxvault.box.model import BoxItem
from boxvault.box.ratelimit import RateLimiter, TokenBucket
from boxvault.box.tokens import FileRefreshLock, FileTokenStorage, new_fernet_key
from boxvault.box.users import BoxUser, diff_users


def test_item_from_listing_json_and_xattrs() -> None:
    raw = {
        "type": "file",
        "id": "11",
        "name": "Résumé 2024.pdf",
        "sha1": "ab" * 20,
        "etag": "3",
        "sequence_id": "3",
        "file_version": {"type": "file_version", "id": "99", "sha1": "ab" * 20},
        "size": 1234,
        "created_at": "2024-01-02T03:04:05-08:00",
        "modified_at": "2024-02-02T03:04:05-08:00",
        "content_created_at": "2023-01-02T03:04:05-08:00",
        "content_modified_at": "2023-06-01T00:00:00Z",
        "created_by": {"type": "user", "id": "7", "name": "Jane", "login": "jane@corp.com"},
        "owned_by": {"type": "user", "id": "7", "name": "Jane", "login": "jane@corp.com"},
        "shared_link": {"url": "https://box/s/x", "access": "open"},
        "has_collaborations": True,
        "comment_count": 2,
    }
    item = BoxItem.from_json(raw, "5", "Docs/Ünïcode")
    assert item.path == "Docs/Ünïcode/Résumé 2024.pdf"
    assert item.version_id == "99" and item.size == 1234 and item.parent_id == "5"
    assert item.mtime.isoformat() == "2023-06-01T00:00:00+00:00"
    x = item.xattrs()
    assert x["box.id"] == b"11" and x["box.version_id"] == b"99" and x["box.sha1"] == b"ab" * 20
    assert b'"login":"jane@corp.com"' in x["box.owner"]
    assert b'"access": "open"' in x["box.shared_link"]
    assert "box.modified_by" not in x  # absent in the listing: absent in the node
    assert all(k.startswith("box.") for k in x)


def test_diff_users() -> None:
    before = [
        BoxUser("1", "a@x", "A", "active"),
        BoxUser("2", "b@x", "B", "active"),
        BoxUser("3", "c@x", "C", "inactive"),
    ]
    now = [
        BoxUser("1", "a@x", "A", "active"),
        BoxUser("2", "b@x", "B", "inactive"),
        BoxUser("3", "c@x", "C", "active"),
        BoxUser("4", "d@x", "D", "active"),
    ]
    ch = diff_users(before, now)
    assert [u.id for u in ch.new] == ["4"]
    assert [u.id for u in ch.deactivated] == ["2"]
    assert [u.id for u in ch.reactivated] == ["3"]
    assert diff_users(now, now[:1]).deleted == now[1:]


def test_blob_cache_by_version_then_sha1(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "b.sqlite", "repo1")
    blobs = (b"\x01" * 32, b"\x02" * 32)
    cache.store_many([("f1", "v1", "s" * 40, CachedContent(blobs, 10))])
    assert cache.lookup("f1", "v1", None) == CachedContent(blobs, 10)
    assert cache.lookup("other", "vX", "s" * 40) == CachedContent(blobs, 10)  # same content elsewhere
    assert cache.lookup("f1", "v2", None) is None
    assert BlobCache(tmp_path / "b.sqlite", "repo2").lookup("f1", "v1", "s" * 40) is None  # per repository
    with pytest.raises(ValueError):
        cache.store_many([("f", "v", "s", CachedContent((b"short",), 1))])
    # a cache opened empty (a first backup) asks SQLite nothing until it stores; one opened on rows finds them
    fresh = BlobCache(tmp_path / "b.sqlite", "repo3")
    assert fresh._empty and fresh.lookup("f1", "v1", "s" * 40) is None
    fresh.store_many([("f3", "v3", "t" * 40, CachedContent(blobs, 10))])
    assert not fresh._empty and fresh.lookup("f3", "v3", None) == CachedContent(blobs, 10)
    reopened = BlobCache(tmp_path / "b.sqlite", "repo3")
    assert not reopened._empty and reopened.lookup("x", "y", "t" * 40) == CachedContent(blobs, 10)


def test_token_bucket_limits_rate() -> None:
    bucket = TokenBucket(rate=50, burst=5)
    start = time.monotonic()
    for _ in range(30):
        bucket.acquire()
    elapsed = time.monotonic() - start
    assert 0.4 <= elapsed < 1.5  # 25 tokens beyond the burst at 50/s
    limiter = RateLimiter(per_user=0, per_enterprise=0)
    start = time.monotonic()
    for _ in range(1000):
        limiter.acquire("u")
    assert time.monotonic() - start < 0.5  # 0 = unlimited


def test_file_token_storage_encrypted_and_atomic(tmp_path: Path) -> None:
    key = new_fernet_key()
    path = tmp_path / "t" / "token.json"
    store = FileTokenStorage(path, key)
    assert store.get() is None
    store.store(
        AccessToken(
            access_token="A1", refresh_token="secret-refresh-R1", expires_in=3600, token_type="bearer"
        )
    )
    assert b"secret-refresh" not in path.read_bytes()  # encrypted at rest
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    other = FileTokenStorage(path, key)  # another process sees the rotated token
    token = other.get()
    assert token is not None and token.refresh_token == "secret-refresh-R1"
    store.store(AccessToken(access_token="A2", refresh_token="R2"))
    assert other.get().refresh_token == "secret-refresh-R1"  # type: ignore[union-attr]  # cached until reload
    assert other.reload().refresh_token == "R2"  # type: ignore[union-attr]
    assert list(path.parent.iterdir()) == [path]  # no temporary left behind


def test_file_refresh_lock_serialises_threads(tmp_path: Path) -> None:
    lock = FileRefreshLock(tmp_path / "lock")
    inside = 0
    peak = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        for _ in range(20):
            with lock.hold():
                with guard:
                    inside += 1
                    peak = max(peak, inside)
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 1


def test_spool_round_trip() -> None:
    from boxvault.box.spool import Spool

    spool = Spool(batch=3)
    rows = [(str(i), "file", f"a/ü{i}", None, i) for i in range(10)]
    for row in rows:
        spool.append(row)
    assert list(spool) == rows
    spool.append(("x",))
    assert list(spool)[-1] == ("x",) and spool.count == 11
    spool.close()


def test_retry_strategy_adds_409_blocked_and_counts() -> None:
    from box_sdk_gen.networking.fetch_options import FetchOptions
    from box_sdk_gen.networking.fetch_response import FetchResponse

    from boxvault.box.http import BackupRetryStrategy
    from boxvault.box.stats import RequestStats

    stats = RequestStats()
    strategy = BackupRetryStrategy(stats, max_attempts=3, base_interval=0.01)
    options = FetchOptions(url="http://x/2.0/files/1", method="GET")
    blocked = FetchResponse(status=409, headers={}, data={"code": "operation_blocked_temporary"})
    conflict = FetchResponse(status=409, headers={}, data={"code": "item_name_in_use"})
    limited = FetchResponse(status=429, headers={"Retry-After": "7"})
    assert strategy.should_retry(options, blocked, 1) and not strategy.should_retry(options, blocked, 3)
    assert not strategy.should_retry(options, conflict, 1)
    assert strategy.should_retry(options, limited, 1)
    assert strategy.retry_after(options, limited, 1) == 7.0  # Retry-After exactly, not capped
    assert strategy.retry_after(options, FetchResponse(status=503, headers={}), 9) <= 10.0
    assert dict(stats.retries) == {"409": 1, "429": 1}


@pytest.mark.parametrize(("method", "failures", "expected_calls", "succeeds"), [
    ("GET", 2, 3, True),  # a body cut twice: read again, the third attempt answers
    ("GET", 9, 4, False),  # body_retries=3: four attempts, then the reset reaches the caller
    ("POST", 1, 1, False),  # a state change is never sent twice blindly
])  # fmt: skip
def test_fetch_retries_reads_cut_mid_body_only(
    monkeypatch: pytest.MonkeyPatch, method: str, failures: int, expected_calls: int, succeeds: bool
) -> None:
    import requests
    from box_sdk_gen.networking.box_network_client import BoxNetworkClient
    from box_sdk_gen.networking.fetch_options import FetchOptions

    from boxvault.box.http import BackupNetworkClient
    from boxvault.box.stats import RequestStats

    calls: list[str] = []

    def flaky(self: object, options: FetchOptions) -> str:
        calls.append(options.method)
        if len(calls) <= failures:
            raise requests.ConnectionError("connection reset by peer")
        return "answer"

    monkeypatch.setattr(BoxNetworkClient, "fetch", flaky)
    stats = RequestStats()
    client = BackupNetworkClient(stats, RateLimiter(), body_retries=3, base_interval=0.001)
    options = FetchOptions(url="http://127.0.0.1:9/2.0/users/me", method=method)
    if succeeds:
        assert client.fetch(options) == "answer"
    else:
        with pytest.raises(requests.ConnectionError):
            client.fetch(options)
    assert len(calls) == expected_calls
    assert stats.retries.get("reset", 0) == expected_calls - 1
