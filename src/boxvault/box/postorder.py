"""Finishing folders post-order during a walk: a folder's tree is written as soon as its listing, its files
and its subfolders are all in the snapshot, and the builder keeps only its node (issue 18). A user's backup
then holds the folders on the way down and the widest folder's entries, not every file of the user."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class PostOrder:
    """Counts, per open folder (its path relative to the user's root), what it still waits for: its own
    listing, each of its files being stored, each of its subfolders being finished. At zero the folder is
    finished and its parent waits for one thing less. The root ("") is left to the commit."""

    def __init__(self, finish: Callable[[str], Any], on_listed: Callable[[str], None] | None = None) -> None:
        self._finish = finish
        self._on_listed = on_listed
        self._lock = threading.Lock()
        self._waiting: dict[str, int] = {}
        self.finished = 0

    @staticmethod
    def parent(path: str) -> str:
        return path.rpartition("/")[0]

    def opened(self, path: str) -> None:
        """A folder was added; it waits for its listing (`done(path)` once listed)."""
        with self._lock:
            self._waiting[path] = self._waiting.get(path, 0) + 1
            parent = self.parent(path)
            if parent in self._waiting:
                self._waiting[parent] += 1

    def started(self, path: str) -> None:
        """A file under `path` is being stored elsewhere (`done(path)` when it is in the snapshot)."""
        with self._lock:
            if path in self._waiting:
                self._waiting[path] += 1

    def listed(self, path: str) -> None:
        """All of the folder's children were given (its own listing is done)."""
        if self._on_listed is not None:
            self._on_listed(path)
        self.done(path)

    def done(self, path: str) -> None:
        """One thing `path` waited for is done; finish the folders this completes, innermost first."""
        while path:
            with self._lock:
                left = self._waiting.get(path)
                if left is None:
                    return
                if left > 1:
                    self._waiting[path] = left - 1
                    return
                del self._waiting[path]
            try:
                self._finish(path)
                self.finished += 1
            except Exception:  # noqa: BLE001, S110 - it stays open and the commit writes it (a writer failure surfaces there)
                pass
            path = self.parent(path)

    @property
    def open_folders(self) -> int:
        with self._lock:
            return len(self._waiting)
