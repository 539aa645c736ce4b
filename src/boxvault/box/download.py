"""Stream one Box file version into a sink, checked against Box's sha1, resuming broken transfers.

The content URL comes from one API call, `GET /2.0/files/{id}/content`, which Box answers with a redirect to
a short-lived URL; the bytes are then read from that URL straight into the sink's buffer (the snapshot's
chunker: no intermediate copy), hashed as they arrive. A connection cut mid-body resumes with `Range` from
the last byte received (or, when the server ignores `Range`, re-reads and skips what the sink already has);
an expired URL is asked for again; 429/5xx wait (`Retry-After` when given) and retry.

Both GETs go through `transport.Getter`: on plain connections of its own with the TLS settings of the SDK's
`requests` session, unless that session's adapter or proxies ask for more. The API call is made here, not
by the SDK's `downloads.get_download_file_url`, with the SDK's own token, `As-User` header, rate limiter
and counters: the SDK and `requests` layers cost about 0.4 ms of CPU per call, as much as the rest of a
small file's download (docs/box.md, "Measured"). It handles what that SDK call does (401: refresh the token
and retry; 429/5xx: retry) and what it does not: 202 (not ready yet: wait `Retry-After`).
"""

from __future__ import annotations

import hashlib
import http.client
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urljoin

import requests
from box_sdk_gen.client import BoxClient

from boxvault.box.stats import RequestStats
from boxvault.box.transport import CHUNK, REDIRECTS, TRANSPORT_ERRORS, Body, getter, location


class DownloadError(Exception):
    """The transfer failed for good (after retries)."""


class ContentGone(DownloadError):
    """The API answered 404 or 410 for the content: the file (or that version) is not there any more for this
    user (trashed or deleted since it was listed)."""

    def __init__(self, file_id: str, status: int, message: str) -> None:
        super().__init__(f"file {file_id}: Box answered {status}: {message}".rstrip(": "))
        self.status = status


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


def _skip(body: Body, count: int) -> int:
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


def _again(failures: int, attempts: int, retry_after: str | None, base_interval: float, error: str) -> int:
    """One more failure: raise DownloadError(`error`) past `attempts`, else sleep `Retry-After` seconds when
    the server gave them, or back off exponentially (with jitter, 30 s at most). Returns the new count."""
    failures += 1
    if failures > attempts:
        raise DownloadError(error)
    if retry_after and retry_after.isdigit():
        time.sleep(float(retry_after))
    else:
        time.sleep(min(30.0, base_interval * 2**failures) * random.uniform(0.5, 1.5))
    return failures


def content_url(
    client: BoxClient,
    stats: RequestStats,
    file_id: str,
    *,
    version_id: str | None = None,
    attempts: int = 8,
    base_interval: float = 0.5,
    timeout: tuple[float, float] = (10.0, 60.0),
    should_stop: Callable[[], bool] | None = None,
) -> str:
    """The short-lived download URL of a file version: `GET /2.0/files/{id}/content`'s redirect.

    Raises ContentGone on 404/410, DownloadError when the API keeps failing or answers anything else.
    """
    session = client.network_session
    network = session.network_client
    fetcher = getter(network.requests_session)  # type: ignore[attr-defined]
    url = f"{session.base_urls.base_url}/2.0/files/{quote(file_id, safe='')}/content"
    if version_id:
        url += f"?version={quote(version_id, safe='')}"
    limiter = getattr(network, "limiter", None)
    as_user = session.additional_headers.get("As-User", "")
    failures = 0
    while True:
        if should_stop is not None and should_stop():
            raise DownloadError(f"file {file_id}: stopped")
        if limiter is not None:
            limiter.acquire(as_user)
        headers = {
            **session.additional_headers,
            "Authorization": client.auth.retrieve_authorization_header(network_session=session),
        }
        retry_after: str | None = None
        try:
            body = fetcher.get(url, headers, timeout)
        except TRANSPORT_ERRORS as exc:
            stats.count_request(None)
            stats.count_retry("connection")
            last_error = f"connection: {exc}"
        else:
            status = body.status
            stats.count_request(status)
            target = location(body)
            if status in REDIRECTS and target:
                body.drain()
                body.finish()
                return urljoin(url, target)
            retry_after = body.headers.get("Retry-After")
            message = body.message()
            last_error = f"Box answered {status}" + (f": {message}" if message else "")
            if status in (404, 410):
                raise ContentGone(file_id, status, message)
            if status == 401:
                # an expired token: a new one (SerializedAuth makes sure one thread refreshes), at once
                stats.count_retry("401")
                client.auth.refresh_token(network_session=session)
                retry_after = "0"
            elif status == 202:  # Box: not ready for download yet, come back after Retry-After
                stats.count_retry("202")
            elif status == 429 or status >= 500:
                stats.count_retry("429" if status == 429 else "5xx")
            else:
                raise DownloadError(f"file {file_id}: {last_error}")
        failures = _again(failures, attempts, retry_after, base_interval, f"file {file_id}: {last_error}")


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
    fetcher = getter(session)
    digest = hashlib.sha1(usedforsecurity=False)
    offset = 0
    resumed = 0
    url: str | None = None
    failures = 0
    last_error = ""
    body: Body | None = None

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
            url = content_url(
                client,
                stats,
                file_id,
                version_id=version_id,
                attempts=attempts,
                base_interval=base_interval,
                timeout=timeout,
                should_stop=should_stop,
            )
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        body = None
        try:
            body = fetcher.follow(url, headers, timeout)
        except TRANSPORT_ERRORS as exc:
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
                except TRANSPORT_ERRORS as exc:
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
        failures = _again(failures, attempts, retry_after, base_interval, f"file {file_id}: {last_error}")
    sha1 = digest.hexdigest()
    if expected_sha1 and sha1 != expected_sha1.lower():
        raise ChecksumMismatch(file_id, expected_sha1, sha1, offset)
    return DownloadResult(size=offset, sha1=sha1, resumed=resumed)
