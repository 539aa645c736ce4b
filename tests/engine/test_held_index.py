"""A held repository refreshes its index incrementally; the disk cache of index and snapshot files."""

from __future__ import annotations

from pathlib import Path

from boxvault.engine.index import DATA
from boxvault.engine.prune import prune
from boxvault.engine.repository import Repository
from boxvault.engine.storage import LocalBackend
from boxvault.engine.storage.cached import CachedBackend, CountingBackend

PASSWORD = "pw"


def _open(path: Path, cache: Path | None = None) -> tuple[Repository, CountingBackend]:
    counter = CountingBackend(LocalBackend(str(path), str(path)))
    backend = CachedBackend(counter, cache) if cache is not None else counter
    return Repository.open(backend, PASSWORD), counter


def _blob(repo: Repository, data: bytes) -> bytes:
    with repo.writer() as writer:
        return writer.save_now(DATA, data)


def test_refresh_reads_only_new_index_files_and_reloads_after_prune(tmp_path: Path) -> None:
    path = tmp_path / "repo"
    Repository.init(LocalBackend(str(path), str(path)), PASSWORD).close()
    held, counter = _open(path)
    first = _blob(held, b"one")  # written by the holder: already in its index, never read back
    other, _ = _open(path)
    second = _blob(other, b"two")  # another worker's index file
    reads = counter.counts["read index"]
    assert held.refresh_index() == 1
    assert counter.counts["read index"] == reads + 1
    assert held.has_blob(first) and held.has_blob(second)
    assert held.refresh_index() == 0 and counter.counts["read index"] == reads + 1

    # a prune rewrites the index (its files are replaced): the held index is read again in full
    prune(other)
    assert len(held.list_ids("index")) >= 1
    loaded = held.refresh_index()
    assert loaded == len(held.list_ids("index"))
    assert held.index.loaded_files == set(held.list_ids("index"))
    assert not held.has_blob(first) and not held.has_blob(second)  # no snapshot used them: pruned


def test_disk_cache_serves_index_and_snapshots_and_drops_damaged_or_removed_files(tmp_path: Path) -> None:
    path, cache = tmp_path / "repo", tmp_path / "cache"
    Repository.init(LocalBackend(str(path), str(path)), PASSWORD).close()
    writer_repo, _ = _open(path, cache)
    _blob(writer_repo, b"cached on write")
    (index_id,) = writer_repo.list_ids("index")
    assert (cache / "index" / index_id).exists()  # written through

    # a second process (same cache directory) reads the index without a storage read
    reader, counter = _open(path, cache)
    reader.load_index()
    assert counter.counts["read index"] == 0

    # a damaged copy is noticed (its name is its SHA-256) and read again from storage
    (cache / "index" / index_id).write_bytes(b"garbage")
    third, counter3 = _open(path, cache)
    third.load_index()
    assert counter3.counts["read index"] == 1
    assert (cache / "index" / index_id).read_bytes() == (path / "index" / index_id).read_bytes()

    # a file gone from the repository leaves the cache at the next listing
    (path / "index" / index_id).unlink()
    assert third.list_ids("index") == []
    assert not (cache / "index" / index_id).exists()
    assert not list((cache / "index").glob(".tmp-*"))
