"""Stream one Box file version into a sink, checked against Box's sha1, resuming broken transfers.

The content URL comes from the SDK (`downloads.get_download_file_url`: one API call, answered with a
redirect to a short-lived URL); the bytes are then read from that URL on the SDK's own pooled HTTP
session in large chunks. A connection cut mid-body resumes with `Range` from the last byte received
(or, when the server ignores `Range`, re-reads and skips what the sink already has); an expired URL
is asked for again; 429/5xx wait (`Retry-After` when given) and retry.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from box_sdk_gen.client import BoxClient

from boxvault.box.stats import RequestStats

CHUNK = 1 << 20


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


def download(
    client: BoxClient,
    stats: RequestStats,
    file_id: str,
    write: Callable[[bytes], object],
    *,
    version_id: str | None = None,
    expected_sha1: str | None = None,
    expected_size: int | None = None,
    attempts: int = 8,
    base_interval: float = 0.5,
    timeout: tuple[float, float] = (10.0, 60.0),
    should_stop: Callable[[], bool] | None = None,
) -> DownloadResult:
    """Write the content of `file_id` to `write`, exactly once per byte, and verify it.

    Raises ChecksumMismatch when the bytes do not hash to `expected_sha1` (the caller must drop what
    it wrote), DownloadError when the transfer keeps failing.
    """
    session: requests.Session = client.network_session.network_client.requests_session  # type: ignore[attr-defined]
    digest = hashlib.sha1(usedforsecurity=False)
    offset = 0
    resumed = 0
    url: str | None = None
    failures = 0
    last_error = ""
    while True:
        if should_stop is not None and should_stop():
            raise DownloadError(f"file {file_id}: stopped")
        if url is None:
            # the SDK call has its own retries (429, 5xx, 401 refresh, resets)
            url = client.downloads.get_download_file_url(file_id, version=version_id)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            response = session.get(url, headers=headers, stream=True, timeout=timeout)
        except requests.RequestException as exc:
            response = None
            last_error = f"connection: {exc}"
            stats.count_retry("connection")
        if response is not None:
            status = response.status_code
            stats.count_download(0, new_request=True)
            if status in (200, 206):
                skip = offset if status == 200 else 0  # the server ignored Range: re-read, skip what we have
                try:
                    for chunk in response.iter_content(CHUNK):
                        if skip:
                            cut = min(skip, len(chunk))
                            chunk = chunk[cut:]
                            skip -= cut
                            if not chunk:
                                continue
                        digest.update(chunk)
                        write(chunk)
                        offset += len(chunk)
                        stats.count_download(len(chunk), new_request=False)
                    complete = expected_size is None or offset >= expected_size
                    if complete:
                        break
                    last_error = f"body ended at {offset} of {expected_size} bytes"
                except requests.RequestException as exc:
                    last_error = f"connection broken at byte {offset}: {exc}"
                finally:
                    response.close()
                resumed += 1
                stats.count_retry("reset")
                failures += 1
                if failures > attempts:
                    raise DownloadError(f"file {file_id}: {last_error}")
                continue  # resume at once: the server answered, it is the connection that broke
            if status == 416 and expected_size is not None and offset >= expected_size:
                response.close()
                break
            retry_after = response.headers.get("Retry-After")
            response.close()
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
            if response is not None and retry_after and retry_after.isdigit()
            else min(30.0, base_interval * 2**failures) * random.uniform(0.5, 1.5)
        )
        time.sleep(delay)
    sha1 = digest.hexdigest()
    if expected_sha1 and sha1 != expected_sha1.lower():
        raise ChecksumMismatch(file_id, expected_sha1, sha1, offset)
    return DownloadResult(size=offset, sha1=sha1, resumed=resumed)
