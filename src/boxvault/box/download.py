"""Stream one Box file version into a sink, checked against Box's sha1, resuming broken transfers.

The content URL comes from the SDK (`downloads.get_download_file_url`: one API call, answered with a
redirect to a short-lived URL); the bytes are then read from that URL on the SDK's own pooled connections
straight into the sink's buffer (the snapshot's chunker: no intermediate copy), hashed as they arrive. A
connection cut mid-body resumes with `Range` from the last byte received (or, when the server ignores
`Range`, re-reads and skips what the sink already has); an expired URL is asked for again; 429/5xx wait
(`Retry-After` when given) and retry.

The GET itself goes to the connection pool of the SDK's `requests` adapter, with the TLS settings that
adapter would use, unless the session has proxies (then through `requests`): the `requests` layer cost
about a third of the CPU of a small file's download (docs/box.md, "Measured").
"""

from __future__ import annotations

import hashlib
import http.client
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from box_sdk_gen.client import BoxClient

from boxvault.box.stats import RequestStats

CHUNK = 1 << 20
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class DownloadError(Exception):
    """The transfer failed for good (after retries)."""


class ChecksumMismatch(DownloadError):
    def __init__(self, file_id: str, expected: str | None, got: str, size: int) -> None:
        super().__init__(f"file {file_id}: sha1 {got} of {size} bytes does not match Box's {expected}")
        self.expected = expected
        self.got = got


@dataclass
class DownloadResult:
    size: int
    sha1: str
    resumed: int = 0  # how many times the body was resumed after a broken connection


class Sink(Protocol):
    def fill(self, read: Callable[[memoryview], int]) -> int:
        """Call `read` once with a free part of the sink's buffer; it returns how many bytes it put there
        (0: the end). Returns that count."""
        ...


class _Body:
    """One GET's response: status, headers and `readinto` over the raw body."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self.raw = raw
        self.status = raw.status
        self.headers = raw.headers
        fp = getattr(raw, "_fp", None)
        encoded = raw.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        # http.client reads straight into the caller's buffer; urllib3's own read() allocates and copies
        self._fp = fp if isinstance(fp, http.client.HTTPResponse) and not encoded else None

    def readinto(self, view: memoryview) -> int:
        if self._fp is not None:
            return self._fp.readinto(view)
        data = self.raw.read(min(len(view), CHUNK), decode_content=True)  # a server that encoded anyway
        view[: len(data)] = data
        return len(data)

    def finish(self) -> None:
        """The body was read to its end: the connection goes back to the pool."""
        self.raw.release_conn()

    def close(self) -> None:
        """Drop the connection (the body may be half read)."""
        self.raw.close()
        self.raw.release_conn()


class _Getter:
    """GETs of download URLs on a `requests` session's connection pools."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self._direct = not session.trust_env and not session.proxies
        self._pools: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, headers: dict[str, str], timeout: tuple[float, float]) -> _Body:
        headers = {"Accept-Encoding": "identity", **headers}
        if not self._direct:
            response = self.session.get(url, headers=headers, stream=True, timeout=timeout)
            return _Body(response.raw)
        parts = urlsplit(url)
        adapter = self.session.get_adapter(url)
        key = (parts.scheme, parts.netloc)
        with self._lock:
            params = self._pools.get(key)
        if params is None:
            # the pool key (TLS verification, CA bundle, client cert) exactly as `requests` would build it
            params = adapter.build_connection_pool_key_attributes(  # type: ignore[attr-defined]
                requests.Request("GET", url).prepare(), self.session.verify, self.session.cert
            )
            with self._lock:
                self._pools[key] = params
        host_params, pool_kwargs = params
        pool = adapter.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)  # type: ignore[attr-defined]
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return _Body(
            pool.urlopen(
                "GET",
                path,
                headers={**self.session.headers, **headers},
                preload_content=False,
                decode_content=False,
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            ),
        )

    def follow(self, url: str, headers: dict[str, str], timeout: tuple[float, float]) -> _Body:
        """`get`, following up to `MAX_REDIRECTS` redirects as `requests` would (a download server may
        send the client on to another host)."""
        for _ in range(MAX_REDIRECTS):
            body = self.get(url, headers, timeout)
            location = body.headers.get("Location")
            if body.status not in _REDIRECTS or not location:
                return body
            body.close()
            url = urljoin(url, location)
        return self.get(url, headers, timeout)


_getters: weakref.WeakKeyDictionary[requests.Session, _Getter] = weakref.WeakKeyDictionary()
_getters_lock = threading.Lock()


def _getter(session: requests.Session) -> _Getter:
    with _getters_lock:
        getter = _getters.get(session)
        if getter is None:
            getter = _getters[session] = _Getter(session)
        return getter


def _skip(body: _Body, count: int) -> int:
    """Read and drop `count` bytes (a server that ignored Range re-sends what the sink has); how many were
    there."""
    scratch = memoryview(bytearray(min(count, CHUNK)))
    left = count
    while left:
        n = body.readinto(scratch[: min(left, len(scratch))])
        if not n:
            break
        left -= n
    return count - left


def download(
    client: BoxClient,
    stats: RequestStats,
    file_id: str,
    sink: Sink,
    *,
    version_id: str | None = None,
    expected_sha1: str | None = None,
    expected_size: int | None = None,
    attempts: int = 8,
    base_interval: float = 0.5,
    timeout: tuple[float, float] = (10.0, 60.0),
    should_stop: Callable[[], bool] | None = None,
) -> DownloadResult:
    """Put the content of `file_id` into `sink`, exactly once per byte, and verify it.

    Raises ChecksumMismatch when the bytes do not hash to `expected_sha1` (the caller must drop what
    it wrote), DownloadError when the transfer keeps failing.
    """
    session: requests.Session = client.network_session.network_client.requests_session  # type: ignore[attr-defined]
    getter = _getter(session)
    digest = hashlib.sha1(usedforsecurity=False)
    offset = 0
    resumed = 0
    url: str | None = None
    failures = 0
    last_error = ""
    body: _Body | None = None

    def read(view: memoryview) -> int:
        assert body is not None
        n = body.readinto(view)
        if n:
            digest.update(view[:n])
        return n

    while True:
        if should_stop is not None and should_stop():
            raise DownloadError(f"file {file_id}: stopped")
        if url is None:
            # the SDK call has its own retries (429, 5xx, 401 refresh, resets)
            url = client.downloads.get_download_file_url(file_id, version=version_id)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        body = None
        try:
            body = getter.follow(url, headers, timeout)
        except _TRANSPORT_ERRORS as exc:
            last_error = f"connection: {exc}"
            stats.count_retry("connection")
        retry_after: str | None = None
        if body is not None:
            status = body.status
            stats.count_download(0, new_request=True)
            if status in (200, 206):
                try:
                    if status == 200 and offset and _skip(body, offset) < offset:
                        raise http.client.IncompleteRead(b"")  # the server ignored Range, then broke off
                    while True:
                        n = sink.fill(read)
                        if not n:
                            break
                        offset += n
                        stats.count_download(n, new_request=False)
                    body.finish()
                    complete = expected_size is None or offset >= expected_size
                    if complete:
                        break
                    last_error = f"body ended at {offset} of {expected_size} bytes"
                except _TRANSPORT_ERRORS as exc:
                    last_error = f"connection broken at byte {offset}: {exc}"
                    body.close()
                except BaseException:
                    body.close()  # the sink failed (or the run stops): the half-read connection is dropped
                    raise
                resumed += 1
                stats.count_retry("reset")
                failures += 1
                if failures > attempts:
                    raise DownloadError(f"file {file_id}: {last_error}")
                continue  # resume at once: the server answered, it is the connection that broke
            retry_after = body.headers.get("Retry-After")
            body.close()
            if status == 416 and expected_size is not None and offset >= expected_size:
                break
            last_error = f"HTTP {status}"
            if status in (401, 403, 404, 410):
                url = None  # an expired or revoked download URL: ask the API for a new one
                stats.count_retry(str(status))
            elif status == 429 or status >= 500:
                stats.count_retry("429" if status == 429 else "5xx")
            else:
                raise DownloadError(f"file {file_id}: download answered HTTP {status}")
        failures += 1
        if failures > attempts:
            raise DownloadError(f"file {file_id}: {last_error}")
        delay = (
            float(retry_after)
            if retry_after and retry_after.isdigit()
            else min(30.0, base_interval * 2**failures) * random.uniform(0.5, 1.5)
        )
        time.sleep(delay)
    sha1 = digest.hexdigest()
    if expected_sha1 and sha1 != expected_sha1.lower():
        raise ChecksumMismatch(file_id, expected_sha1, sha1, offset)
    return DownloadResult(size=offset, sha1=sha1, resumed=resumed)
