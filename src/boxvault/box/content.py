"""First-level dedup across files, users and runs, and the bookkeeping that makes it crash-safe.

- `find` answers "is this file version's content already in the repository?" from this run's
  uploads (by sha1) and from the blob cache (by file id + version id, then sha1), verifying every
  blob with `repo.has_blob` before reuse;
- `claim` makes the second thread that wants the same sha1 wait for the first one's download
  instead of fetching the same bytes twice (shared folders put one file in several users' trees);
- `stored` remembers new content; it reaches the blob cache only through `flush`, called after a
  `checkpoint()`/`commit()` made its blobs durable.

New content is remembered as a `LazyContent`: the downloading thread goes on to its next file while the
writer's workers still hash and encrypt this one's last blobs, and the blob ids are asked for only by who
needs them (a second user's copy of the file, the checkpoint). Waiting for them at each file's end had
cost the download threads a fifth of their time (docs/box.md, "Measured").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from boxvault.box.blobcache import BlobCache, CachedContent

EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"

PendingEntry = tuple[str, str, str, CachedContent]  # file id, version id, sha1, content
_COMPACT_LOOKBACK = 64  # entries looked at again on each new one (blobs are saved within a few files)


class LazyContent:
    """Content whose blob ids are known once the writer has saved its blobs: `get` waits for them, once."""

    __slots__ = ("_resolve", "_done", "_value")

    def __init__(
        self, resolve: Callable[[], CachedContent], done: Callable[[], bool] = lambda: False
    ) -> None:
        self._resolve: Callable[[], CachedContent] | None = resolve
        self._done = done  # would `get` return at once, without raising?
        self._value: CachedContent | None = None

    def ready(self) -> CachedContent | None:
        """The content if it is known without waiting, else None."""
        if self._value is None and self._done():
            return self.get()
        return self._value

    def get(self) -> CachedContent:
        """Raises what saving the blobs raised (the writer fails the run then). Any thread may ask: two
        at once may both resolve (it gives the same answer); the value is set before the resolver goes."""
        value = self._value
        if value is None:
            resolve = self._resolve
            if resolve is None:  # resolved by another thread meanwhile
                value = self._value
                assert value is not None
                return value
            value = resolve()
            self._value = value
            self._resolve = None
        return value


def _resolved(content: CachedContent | LazyContent) -> CachedContent | None:
    """The content, waiting for a lazy one's blobs; None when they could not be saved."""
    if isinstance(content, CachedContent):
        return content
    try:
        return content.get()
    except Exception:  # noqa: BLE001 - its blobs were not saved: not reusable (the run fails anyway)
        return None


class ContentStore:
    def __init__(self, cache: BlobCache, has_blob: Callable[[bytes], bool]) -> None:
        self.cache = cache
        self.has_blob = has_blob
        self._lock = threading.Lock()
        self._this_run: dict[str, CachedContent | LazyContent] = {}
        self._inflight: dict[str, Future[None]] = {}
        # owner (a user's builder) -> (file id, version id, sha1, content) not yet in the blob cache
        self._pending: dict[str, list[tuple[str, str, str, CachedContent | LazyContent]]] = {}

    def find(
        self, file_id: str, version_id: str | None, sha1: str | None, size: int, *, cache: bool = True
    ) -> CachedContent | None:
        """This run's content with that sha1, else (with `cache`) the blob cache's, verified."""
        if size == 0 and (sha1 is None or sha1 == EMPTY_SHA1):
            return CachedContent((), 0)
        if sha1:
            with self._lock:
                mine = self._this_run.get(sha1)
            if mine is not None:
                hit = _resolved(mine)
                if hit is not None:
                    return hit
        if not cache:
            return None
        cached = self.cache.lookup(file_id, version_id, sha1)
        if cached is None or cached.size != size:
            return None
        if not all(self.has_blob(blob) for blob in cached.blobs):
            return None  # pruned, or recorded by a run that died before its checkpoint
        return cached

    def claim(self, sha1: str | None) -> Future[None] | None:
        """None: the caller downloads (and must call `stored` or `released`); else wait on the future,
        then `find` again."""
        if not sha1:
            return None
        with self._lock:
            other = self._inflight.get(sha1)
            if other is not None:
                return other
            done = self._this_run.get(sha1)
            if done is None:
                self._inflight[sha1] = Future()
                return None
        if _resolved(done) is None:
            # its blobs could not be saved: forget it, and fetch the bytes again
            with self._lock:
                if self._this_run.get(sha1) is done:
                    del self._this_run[sha1]
            return self.claim(sha1)
        # stored by another thread since the caller's `find`: reuse it, do not fetch it again
        ready: Future[None] = Future()
        ready.set_result(None)
        return ready

    def stored(
        self,
        owner: str,
        file_id: str,
        version_id: str | None,
        sha1: str,
        content: CachedContent | LazyContent,
    ) -> None:
        with self._lock:
            self._this_run[sha1] = content
            pending = self._pending.setdefault(owner, [])
            pending.append((file_id, version_id or "", sha1, content))
            future = self._inflight.pop(sha1, None)
            self._compact(pending)
        if future is not None:
            future.set_result(None)

    def _compact(self, pending: list[tuple[str, str, str, CachedContent | LazyContent]]) -> None:
        """Entries whose blobs are all saved by now keep just their blob ids: a lazy one holds the file's
        node, and thousands may wait for the next checkpoint. Looks back a few entries, oldest first."""
        for i in range(max(0, len(pending) - _COMPACT_LOOKBACK), len(pending)):
            file_id, version_id, sha1, content = pending[i]
            if isinstance(content, CachedContent):
                continue
            ready = content.ready()
            if ready is None:
                continue
            pending[i] = (file_id, version_id, sha1, ready)
            if self._this_run.get(sha1) is content:
                self._this_run[sha1] = ready

    def released(self, sha1: str | None) -> None:
        if not sha1:
            return
        with self._lock:
            future = self._inflight.pop(sha1, None)
        if future is not None:
            future.set_result(None)

    def take_pending(self, owner: str | None = None) -> list[PendingEntry]:
        """Entries registered so far (of one owner, or all); flush them once a checkpoint has returned.

        Waits for their blob ids: an entry's blobs were given to the writer before it was taken, so the
        checkpoint (or commit) that follows makes them durable."""
        with self._lock:
            if owner is not None:
                taken = self._pending.pop(owner, [])
            else:
                taken = [e for group in self._pending.values() for e in group]
                self._pending.clear()
        entries: list[PendingEntry] = []
        for file_id, version_id, sha1, content in taken:
            ready = _resolved(content)
            if ready is not None:
                entries.append((file_id, version_id, sha1, ready))
        return entries

    def flush(self, entries: list[PendingEntry]) -> None:
        self.cache.store_many(entries)
        with self._lock:
            # the blob cache answers for these now (by sha1 too): keep memory flat on huge runs
            for _, _, sha1, _ in entries:
                self._this_run.pop(sha1, None)
