"""Token-bucket rate limiting, per Box user and per enterprise.

Box limits API calls per user (about 1,000 a minute) and per enterprise; staying under the limit is
cheaper than being told so with a 429 and a `Retry-After` pause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """A thread-safe token bucket; `rate` <= 0 means unlimited."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self, n: float = 1.0) -> float:
        """Take `n` tokens now (possibly going negative) and return how long the caller must wait."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.rate

    def acquire(self, n: float = 1.0) -> float:
        """Block until `n` tokens are available; returns the seconds waited."""
        wait = self.reserve(n)
        if wait > 0:
            time.sleep(wait)
        return wait


class RateLimiter:
    """One bucket for the enterprise and one per Box user (keyed by the As-User id, "" for the service)."""

    def __init__(self, per_user: float = 0.0, per_enterprise: float = 0.0, burst: float | None = None):
        self.per_user = per_user
        self.enterprise = TokenBucket(per_enterprise, burst)
        self._burst = burst
        self._users: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.waited = 0.0

    def _bucket(self, user: str) -> TokenBucket:
        with self._lock:
            bucket = self._users.get(user)
            if bucket is None:
                bucket = self._users[user] = TokenBucket(self.per_user, self._burst)
            return bucket

    def acquire(self, user: str) -> None:
        # Reserve in both buckets first, then sleep once for the longer wait: sleeping twice would
        # leave the first bucket's token idle while waiting for the second.
        wait = max(self._bucket(user).reserve(), self.enterprise.reserve())
        if wait > 0:
            with self._lock:
                self.waited += wait
            time.sleep(wait)
