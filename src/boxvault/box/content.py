"""First-level dedup across files, users and runs, and the bookkeeping that makes it crash-safe.

- `find` answers "is this file version's content already in the repository?" from this run's
  uploads (by sha1) and from the blob cache (by file id + version id, then sha1), verifying every
  blob with `repo.has_blob` before reuse;
- `claim` makes the second thread that wants the same sha1 wait for the first one's download
  instead of fetching the same bytes twice (shared folders put one file in several users' trees);
- `stored` remembers new content; it reaches the blob cache only through `flush`, called after a
  `checkpoint()`/`commit()` made its blobs durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from boxvault.box.blobcache import BlobCache, CachedContent

EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"

PendingEntry = tuple[str, str, str, CachedContent]  # file id, version id, sha1, content


class ContentStore:
    def __init__(self, cache: BlobCache, has_blob: Callable[[bytes], bool]) -> None:
        self.cache = cache
        self.has_blob = has_blob
        self._lock = threading.Lock()
        self._this_run: dict[str, CachedContent] = {}
        self._inflight: dict[str, Future[CachedContent | None]] = {}
        self._pending: dict[str, list[PendingEntry]] = {}  # owner (a user's builder) -> entries

    def find(self, file_id: str, version_id: str | None, sha1: str | None, size: int) -> CachedContent | None:
        if size == 0 and (sha1 is None or sha1 == EMPTY_SHA1):
            return CachedContent((), 0)
        if sha1:
            with self._lock:
                hit = self._this_run.get(sha1)
            if hit is not None:
                return hit
        cached = self.cache.lookup(file_id, version_id, sha1)
        if cached is None or cached.size != size:
            return None
        if not all(self.has_blob(blob) for blob in cached.blobs):
            return None  # pruned, or recorded by a run that died before its checkpoint
        return cached

    def claim(self, sha1: str | None) -> Future[CachedContent | None] | None:
        """None: the caller downloads (and must call `stored` or `released`); else wait on the future."""
        if not sha1:
            return None
        with self._lock:
            other = self._inflight.get(sha1)
            if other is not None:
                return other
            done = self._this_run.get(sha1)
            if done is not None:
                # stored by another thread since the caller's `find`: reuse it, do not fetch it again
                ready: Future[CachedContent | None] = Future()
                ready.set_result(done)
                return ready
            self._inflight[sha1] = Future()
        return None

    def stored(
        self, owner: str, file_id: str, version_id: str | None, sha1: str, content: CachedContent
    ) -> None:
        with self._lock:
            self._this_run[sha1] = content
            self._pending.setdefault(owner, []).append((file_id, version_id or "", sha1, content))
            future = self._inflight.pop(sha1, None)
        if future is not None:
            future.set_result(content)

    def released(self, sha1: str | None) -> None:
        if not sha1:
            return
        with self._lock:
            future = self._inflight.pop(sha1, None)
        if future is not None:
            future.set_result(None)

    def take_pending(self, owner: str | None = None) -> list[PendingEntry]:
        """Entries registered so far (of one owner, or all); flush them once a checkpoint has returned."""
        with self._lock:
            if owner is not None:
                return self._pending.pop(owner, [])
            entries = [e for group in self._pending.values() for e in group]
            self._pending.clear()
            return entries

    def flush(self, entries: list[PendingEntry]) -> None:
        self.cache.store_many(entries)
        with self._lock:
            # the blob cache answers for these now (by sha1 too): keep memory flat on huge runs
            for _, _, sha1, _ in entries:
                self._this_run.pop(sha1, None)
