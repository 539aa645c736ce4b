"""Thread-safe counters of what a run cost: API requests, retries by reason, bytes downloaded."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RequestStats:
    requests: int = 0  # API calls sent (every attempt counts)
    downloads: int = 0  # content GETs against download URLs (not API calls on Box)
    download_bytes: int = 0
    retries: Counter[str] = field(
        default_factory=Counter
    )  # reason -> count ("429", "5xx", "reset", "401", "409")
    statuses: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_request(self, status: int | None) -> None:
        with self._lock:
            self.requests += 1
            self.statuses[status if status is not None else 0] += 1

    def count_retry(self, reason: str) -> None:
        with self._lock:
            self.retries[reason] += 1

    def count_download(self, nbytes: int, new_request: bool) -> None:
        with self._lock:
            self.download_bytes += nbytes
            if new_request:
                self.downloads += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": self.requests,
                "downloads": self.downloads,
                "download_bytes": self.download_bytes,
                "retries": dict(self.retries),
                "retries_total": sum(self.retries.values()),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            }
