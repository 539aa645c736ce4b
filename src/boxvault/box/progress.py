"""Progress of a run (items and bytes done of the totals known so far, rate, ETA) through a callback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressInfo:
    user: str  # the login being backed up ("" between users)
    items_done: int
    items_total: int  # grows while the walk discovers items
    bytes_done: int  # downloaded + reused content bytes
    bytes_total: int
    bytes_downloaded: int
    elapsed: float
    walking: bool  # True until every folder is listed (totals are still growing)
    folder: str = ""  # the folder listed last (relative to the user's root)

    @property
    def rate(self) -> float:
        """Bytes per second over the run."""
        return self.bytes_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left, or None while the totals are unknown or nothing has moved yet."""
        if self.walking or self.rate <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / self.rate)

    def describe(self) -> str:
        """One line for a person: where the run is, and how long it has left when that is known."""
        where = f"{self.user}: /{self.folder}" if self.user else f"/{self.folder}"
        eta = self.eta
        if eta is None:
            left = "listing, time left not known yet" if self.walking else ""
        elif eta < 90:
            left = "less than 2 minutes left"
        elif eta < 5400:
            left = f"about {round(eta / 60)} minutes left"
        else:
            left = f"about {eta / 3600:.1f} hours left"
        return f"{where} · {left}" if left else where


ProgressCallback = Callable[[ProgressInfo], None]


class Progress:
    """Thread-safe counters that call back at most every `interval` seconds (and on `flush`)."""

    def __init__(self, callback: ProgressCallback | None, interval: float = 0.25) -> None:
        self.callback = callback
        self.interval = interval
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._last = 0.0
        self.user = ""
        self.items_done = self.items_total = 0
        self.bytes_done = self.bytes_total = self.bytes_downloaded = 0
        self.walking = True
        self.folder = ""

    def found(self, items: int = 1, nbytes: int = 0) -> None:
        with self._lock:
            self.items_total += items
            self.bytes_total += nbytes
        self._maybe_emit()

    def done(self, items: int = 1, nbytes: int = 0, downloaded: int = 0) -> None:
        with self._lock:
            self.items_done += items
            self.bytes_done += nbytes
            self.bytes_downloaded += downloaded
        self._maybe_emit()

    def set_user(self, user: str, walking: bool = True) -> None:
        with self._lock:
            self.user = user
            self.walking = walking
        self.flush()

    def set_folder(self, folder: str) -> None:
        with self._lock:
            self.folder = folder
        self._maybe_emit()

    def info(self) -> ProgressInfo:
        with self._lock:
            return ProgressInfo(
                self.user,
                self.items_done,
                self.items_total,
                self.bytes_done,
                self.bytes_total,
                self.bytes_downloaded,
                time.monotonic() - self._start,
                self.walking,
                self.folder,
            )

    def _maybe_emit(self) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.callback(self.info())

    def flush(self) -> None:
        if self.callback is not None:
            self._last = time.monotonic()
            self.callback(self.info())
