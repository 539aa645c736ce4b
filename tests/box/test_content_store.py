"""The content store's bookkeeping of this run's downloads (box/content.py): lazy blob ids, claims, and
what reaches the blob cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from boxvault.box.blobcache import BlobCache, CachedContent
from boxvault.box.content import ContentStore, LazyContent

SHA1 = "a" * 40
BLOB = bytes(range(32))


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(BlobCache(tmp_path / "cache.sqlite", "repo"), has_blob=lambda _: True)


def test_lazy_content_is_resolved_once_and_only_when_asked(store: ContentStore) -> None:
    calls: list[int] = []

    def resolve() -> CachedContent:
        calls.append(1)
        return CachedContent((BLOB,), 10)

    assert store.claim(SHA1) is None  # this thread downloads
    store.stored("u1", "f1", "v1", SHA1, LazyContent(resolve))
    assert calls == []  # the downloading thread did not wait for the blob ids
    assert store.find("f2", "v2", SHA1, 10) == CachedContent((BLOB,), 10)  # another user's copy
    assert store.find("f3", "v3", SHA1, 10) == CachedContent((BLOB,), 10)
    assert calls == [1]
    assert store.take_pending("u1") == [("f1", "v1", SHA1, CachedContent((BLOB,), 10))]


def test_content_whose_blobs_failed_is_fetched_again_and_never_cached(store: ContentStore) -> None:
    def fail() -> CachedContent:
        raise OSError("pack upload failed")

    assert store.claim(SHA1) is None
    store.stored("u1", "f1", "v1", SHA1, LazyContent(fail))
    assert store.find("f2", "v2", SHA1, 10) is None
    assert store.claim(SHA1) is None  # not a ready future: the caller downloads the bytes itself
    assert store.take_pending("u1") == []  # nothing unsaved reaches the blob cache
    store.released(SHA1)


def test_a_second_claim_waits_for_the_first_download(store: ContentStore) -> None:
    assert store.claim(SHA1) is None
    waiter = store.claim(SHA1)
    assert waiter is not None and not waiter.done()
    store.stored("u1", "f1", "v1", SHA1, CachedContent((BLOB,), 10))
    assert waiter.done()
    ready = store.claim(SHA1)  # stored meanwhile: reuse, do not fetch
    assert ready is not None and ready.done()
    store.flush(store.take_pending())
    assert store.cache.lookup("f1", "v1", None) == CachedContent((BLOB,), 10)


def test_entries_whose_blobs_are_saved_keep_only_their_ids(store: ContentStore) -> None:
    """Thousands of files may wait for the next checkpoint: an entry whose blobs are all saved is turned
    into its blob ids when the next one comes (the lazy one holds the file's node); one still being saved
    stays lazy, and nothing waits."""
    saved = LazyContent(lambda: CachedContent((BLOB,), 10), done=lambda: True)

    def must_not_wait() -> CachedContent:
        raise AssertionError("resolved while its blobs were still being saved")

    busy = LazyContent(must_not_wait, done=lambda: False)
    store.stored("u1", "f1", "v1", SHA1, saved)
    store.stored("u1", "f2", "v2", "b" * 40, busy)
    pending = store._pending["u1"]
    assert pending[0][3] == CachedContent((BLOB,), 10)
    assert store._this_run[SHA1] == CachedContent((BLOB,), 10)
    assert pending[1][3] is busy
