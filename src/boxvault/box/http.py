"""The SDK's network layer, extended rather than replaced.

`BoxNetworkClient` + `BoxRetryStrategy` already retry 5xx and 429 (sleeping exactly `Retry-After`),
refresh the token on a 401 and retry connection errors raised while *sending*. What they miss, and
what this module adds:

- 409 `operation_blocked_temporary` is retried (Box asks for it; the SDK gives up);
- a connection reset while the SDK reads a JSON body escapes `fetch()` as a raw `requests`
  exception; we retry idempotent requests (GET) with backoff;
- a rate limiter in front of every attempt, per As-User and per enterprise;
- counters of requests and of retries by reason, for the run summary.
"""

from __future__ import annotations

import urllib.request

import requests
import stamina
from box_sdk_gen.networking.box_network_client import APIRequest, APIResponse, BoxNetworkClient
from box_sdk_gen.networking.fetch_options import FetchOptions
from box_sdk_gen.networking.fetch_response import FetchResponse
from box_sdk_gen.networking.retries import BoxRetryStrategy
from requests.adapters import HTTPAdapter

from boxvault.box.ratelimit import RateLimiter
from boxvault.box.stats import RequestStats


class BackupRetryStrategy(BoxRetryStrategy):
    """`BoxRetryStrategy` plus 409 operation_blocked_temporary, retry counting and a backoff cap."""

    def __init__(
        self,
        stats: RequestStats,
        *,
        max_attempts: int = 10,
        base_interval: float = 1.0,
        max_interval: float = 10.0,
        max_retries_on_exception: int = 6,
    ) -> None:
        super().__init__(
            max_attempts=max_attempts,
            retry_base_interval=base_interval,
            max_retries_on_exception=max_retries_on_exception,
        )
        self.stats = stats
        self.max_interval = max_interval

    def should_retry(
        self, fetch_options: FetchOptions, fetch_response: FetchResponse, attempt_number: int
    ) -> bool:
        status = fetch_response.status
        if status == 409 and _error_code(fetch_response) == "operation_blocked_temporary":
            retry = attempt_number < self.max_attempts
        else:
            retry = bool(super().should_retry(fetch_options, fetch_response, attempt_number))
        if retry:
            self.stats.count_retry(_reason(status))
        return retry

    def retry_after(
        self, fetch_options: FetchOptions, fetch_response: FetchResponse, attempt_number: int
    ) -> float:
        if fetch_response.status == 401:
            return 0.0  # the token was just refreshed: no reason to wait
        delay = float(super().retry_after(fetch_options, fetch_response, attempt_number))
        if "Retry-After" in fetch_response.headers:
            return delay  # the server's word, not capped
        return min(delay, self.max_interval)


def _error_code(response: FetchResponse) -> str | None:
    data = response.data
    if isinstance(data, dict):
        code = data.get("code")
        return code if isinstance(code, str) else None
    return None


def _reason(status: int) -> str:
    if status == 0:
        return "connection"
    if status >= 500:
        return "5xx"
    return str(status)


class BackupNetworkClient(BoxNetworkClient):
    """`BoxNetworkClient` with rate limiting, request counting and retry of bodies cut mid-read."""

    def __init__(
        self,
        stats: RequestStats,
        limiter: RateLimiter,
        *,
        body_retries: int = 6,
        base_interval: float = 1.0,
        pool_size: int = 32,
    ) -> None:
        session = requests.Session()
        if not urllib.request.getproxies():
            # requests re-reads the proxy variables of os.environ on *every* request (several ms of CPU
            # with a large environment); without any proxy configured there is nothing to re-read
            session.trust_env = False
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        super().__init__(requests_session=session)
        self.stats = stats
        self.limiter = limiter
        self.body_retries = body_retries
        self.base_interval = base_interval

    def _make_request(self, request: APIRequest) -> APIResponse:
        self.limiter.acquire(request.headers.get("As-User", ""))
        response = super()._make_request(request)
        status = response.network_response.status_code if response.network_response is not None else None
        self.stats.count_request(status)
        return response

    def fetch(self, options: FetchOptions) -> FetchResponse:
        if options.method.upper() not in ("GET", "HEAD", "OPTIONS"):
            return super().fetch(options)  # anything that changes state must not be sent twice blindly
        # A reset raised while reading a response body (the SDK only guards the send) is safe to repeat
        # for reads: exponential backoff with jitter, capped at 30 s, `body_retries` times at most.
        for attempt in stamina.retry_context(
            on=requests.RequestException,
            attempts=self.body_retries + 1,
            timeout=None,
            wait_initial=self.base_interval,
            wait_max=30.0,
            wait_jitter=self.base_interval,
        ):
            with attempt:
                if attempt.num > 1:
                    self.stats.count_retry("reset")
                return super().fetch(options)
        raise AssertionError("unreachable: the last attempt re-raises")  # pragma: no cover
