"""Request statistics for the control API: requests by route and status, bytes served, downloads per file."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[tuple[str, str, int]] = Counter()
            self.bytes_served = 0
            self.bytes_received = 0
            self.downloads: Counter[str] = Counter()
            self.download_bytes: Counter[str] = Counter()
            self.started = time.time()

    def request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1

    def served(self, n: int) -> None:
        with self._lock:
            self.bytes_served += n

    def received(self, n: int) -> None:
        with self._lock:
            self.bytes_received += n

    def download(self, file_id: str, n: int) -> None:
        with self._lock:
            self.downloads[file_id] += 1
            self.download_bytes[file_id] += n

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            by_route: dict[str, dict[str, int]] = defaultdict(dict)
            by_status: Counter[str] = Counter()
            for (method, route, status), n in sorted(self.requests.items()):
                by_route[f"{method} {route}"][str(status)] = n
                by_status[str(status)] += n
            return {
                "since": self.started,
                "requests_total": sum(self.requests.values()),
                "requests": dict(by_route),
                "requests_by_status": dict(by_status),
                "bytes_served": self.bytes_served,
                "bytes_received": self.bytes_received,
                "downloads": dict(self.downloads),
                "download_bytes": dict(self.download_bytes),
            }


class RateLimiter:
    """Box's per-user limits (about 1,000 API requests and 240 uploads a minute); off unless configured."""

    def __init__(self) -> None:
        self.requests_per_minute = 0
        self.uploads_per_minute = 0
        self._lock = threading.Lock()
        self._seen: dict[tuple[int, str], deque[float]] = defaultdict(deque)

    def configure(self, requests_per_minute: int, uploads_per_minute: int) -> None:
        with self._lock:
            self.requests_per_minute = requests_per_minute
            self.uploads_per_minute = uploads_per_minute
            self._seen.clear()

    def check(self, user_id: int, upload: bool) -> float | None:
        """Seconds to wait when the user is over a limit, else None (and the request is counted)."""
        now = time.monotonic()
        with self._lock:
            for kind, limit in (("api", self.requests_per_minute), ("upload", self.uploads_per_minute)):
                if not limit or (kind == "upload" and not upload):
                    continue
                window = self._seen[(user_id, kind)]
                while window and window[0] <= now - 60:
                    window.popleft()
                if len(window) >= limit:
                    return max(1.0, 60 - (now - window[0]))
            for kind, limit in (("api", self.requests_per_minute), ("upload", self.uploads_per_minute)):
                if limit and (kind == "api" or upload):
                    self._seen[(user_id, kind)].append(now)
            return None

    def to_json(self) -> dict[str, int]:
        return {
            "requests_per_minute": self.requests_per_minute,
            "uploads_per_minute": self.uploads_per_minute,
        }
