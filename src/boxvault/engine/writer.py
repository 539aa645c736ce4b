"""The blob writer: dedup, compression, encryption and packing on a thread pool, uploads on their own threads.

Data flow (one Writer per process and repository, shared by every SnapshotBuilder):
chunk (caller's thread) -> worker: SHA-256, dedup against the index and in-flight blobs, zstd, AES-CTR +
Poly1305 -> the open pack of that blob type -> full pack: upload thread writes ``data/xx/<id>`` and adds its
blobs to the in-memory index -> ``flush()`` writes an index file, after which the blobs are durable
(design.rst "Read and Write Ordering": packs, then indexes, then snapshots).
hashlib and zstandard release the GIL on large buffers, and uploads wait on I/O, so both cores stay busy.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import compression
from .chunker import BufferPool
from .crypto import Buffer
from .errors import EngineError, InvalidArgument
from .index import DATA, MAX_INDEX_ENTRIES, TREE, PackRecord, index_document
from .pack import header_entry, header_trailer
from .storage import StorageError, data_name
from .storage.base import write_parts

if TYPE_CHECKING:
    from datetime import datetime

    from .builder import SnapshotBuilder
    from .lock import Lock
    from .repository import Repository

MIN_PACK_SIZE = 1 * 2**20
INDEX_EVERY_PACKS = 16  # 256 MiB of 16 MiB packs: what a crash can cost the next run at most
INDEX_EVERY_SECONDS = 300.0


@dataclass
class WriteStats:
    """What a snapshot added; aggregated per builder (restic's summary fields)."""

    data_blobs: int = 0
    tree_blobs: int = 0
    data_added: int = 0  # plaintext bytes of new blobs
    data_added_packed: int = 0  # their stored size
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: int, plain: int, stored: int) -> None:
        with self._lock:
            if kind == TREE:
                self.tree_blobs += 1
            else:
                self.data_blobs += 1
            self.data_added += plain
            self.data_added_packed += stored


class _OpenPack:
    def __init__(self) -> None:
        self.parts: list[Buffer] = []
        self.header: list[bytes] = []
        self.blobs: list[tuple[int, bytes, int, int, int]] = []
        self.size = 0
        # The pack's SHA-256 (its name) is taken part by part, in pack order, by the worker that has just
        # encrypted a part (still in its core's cache), not over the joined pack in the upload thread:
        # hashing cold memory costs twice as much on the machines measured (docs/repository.md)
        self.digest = hashlib.sha256()
        self.hashed = 0  # parts[:hashed] are in `digest`
        self.hash_lock = threading.Lock()

    def hash_parts(self, wait: bool = True) -> None:
        """Hash every part appended so far and not hashed yet, in order (parts are only ever appended).

        Without `wait`, a worker that finds another one hashing goes on with its next blob: the other one
        takes this part too, or the next caller does (the upload always waits, and so hashes what is left).
        """
        if not self.hash_lock.acquire(blocking=wait):
            return
        try:
            while self.hashed < len(self.parts):
                self.digest.update(self.parts[self.hashed])
                self.hashed += 1
        finally:
            self.hash_lock.release()


class Writer:
    """Thread-safe: many threads (and SnapshotBuilders) may save blobs at the same time."""

    def __init__(
        self,
        repo: Repository,
        *,
        pack_size: int = 16 * 2**20,
        lock: bool = True,
        workers: int | None = None,
        uploaders: int = 2,
    ) -> None:
        if pack_size < MIN_PACK_SIZE:
            raise InvalidArgument(f"pack size {pack_size} is below the minimum of {MIN_PACK_SIZE}")
        self.repo = repo
        self.pack_size = pack_size
        self.level = compression.LEVELS[repo.compression]
        self.workers = workers or max(2, os.cpu_count() or 2)
        repo.load_index()
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, bytes], None] = {}  # saved but not yet in the index
        self._open: dict[int, _OpenPack] = {DATA: _OpenPack(), TREE: _OpenPack()}
        self._records: list[PackRecord] = []  # uploaded packs no index file lists yet
        self._jobs: set[Future[Any]] = set()
        self._uploads: set[Future[Any]] = set()
        self._slots = threading.BoundedSemaphore(self.workers * 8 + 2)
        self._upload_slots = threading.BoundedSemaphore(uploaders + 1)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="blob")
        self._upload_pool = ThreadPoolExecutor(uploaders, thread_name_prefix="upload")
        # chunk buffers of this writer's files, used again once their blobs are saved (chunker.py)
        self.buffers = BufferPool()
        self._flush_lock = threading.Lock()
        self._last_index = time.monotonic()
        self._index_lock = threading.Lock()
        self._error: BaseException | None = None
        self._closed = False
        self._want_lock = lock
        self._repo_lock: Lock | None = None
        self.stats = WriteStats()

    # --- lifecycle ----------------------------------------------------------------------------------------

    def __enter__(self) -> Writer:
        if self._want_lock and self._repo_lock is None:
            self._repo_lock = self.repo.lock(exclusive=False).acquire()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the threads; blobs not flushed stay in packs without an index (prune collects them)."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)
        self._upload_pool.shutdown(wait=True)
        if self._repo_lock is not None:
            self._repo_lock.release()
            self._repo_lock = None

    def snapshot(
        self,
        *,
        hostname: str,
        paths: list[str],
        tags: list[str] | None = None,
        time: datetime | None = None,
        parent: str | bytes | None = None,
        username: str | None = None,
        program_version: str | None = None,
    ) -> SnapshotBuilder:
        from .builder import SnapshotBuilder

        return SnapshotBuilder(
            self,
            hostname=hostname,
            paths=paths,
            tags=tags or [],
            time=time,
            parent=parent,
            username=username,
            program_version=program_version,
        )

    # --- saving blobs -------------------------------------------------------------------------------------

    def _check(self) -> None:
        if self._error is not None:
            raise EngineError(f"writing to the repository failed: {self._error}") from self._error
        if self._closed:
            raise InvalidArgument("the writer is closed")

    def save(
        self, kind: int, data: Buffer, stats: WriteStats | None = None, blob_id: bytes | None = None
    ) -> Future[bytes]:
        """Queue a blob; the future yields its id. ``data`` must not change until the future is done."""
        self._check()
        self._slots.acquire()
        try:
            fut = self._pool.submit(self._process, kind, data, stats, blob_id)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._jobs.add(fut)
        fut.add_done_callback(self._job_done)
        return fut

    def save_now(self, kind: int, data: Buffer, stats: WriteStats | None = None) -> bytes:
        return self.save(kind, data, stats).result()

    def _job_done(self, fut: Future[Any]) -> None:
        with self._lock:
            self._jobs.discard(fut)
        self._slots.release()
        exc = fut.exception()
        if exc is not None and self._error is None:
            self._error = exc

    def _process(self, kind: int, data: Buffer, stats: WriteStats | None, blob_id: bytes | None) -> bytes:
        if blob_id is None:
            blob_id = hashlib.sha256(data).digest()
        key = (kind, blob_id)
        with self._lock:
            if key in self._pending:
                return blob_id
            if self.repo.index.has(kind, blob_id):
                return blob_id
            self._pending[key] = None
        try:
            plain_len = len(data)
            payload: Buffer = data
            ulen = 0
            # restic compresses trees even with compression off. A tree blob is always stored compressed:
            # restic's prune repacks every tree pack holding an uncompressed tree blob. A data blob that does
            # not shrink stays plain.
            level = self.level or (compression.LEVELS["auto"] if kind == TREE else 0)
            if kind == TREE and level and self.repo.config.version >= 2:
                payload, ulen = compression.compress(data, level), plain_len
            elif level and plain_len and not compression.looks_incompressible(data, level):
                packed = compression.compress(data, level)
                if len(packed) < plain_len:
                    payload, ulen = packed, plain_len
            sealed = self.repo.key.encrypt_data(payload)
        except BaseException:
            with self._lock:
                self._pending.pop(key, None)
            raise
        self._add_to_pack(kind, blob_id, sealed, ulen)
        for s in (self.stats, stats):
            if s is not None:
                s.add(kind, plain_len, len(sealed))
        return blob_id

    def _add_to_pack(self, kind: int, blob_id: bytes, sealed: Buffer, ulen: int) -> None:
        full: _OpenPack | None = None
        with self._lock:
            pack = self._open[kind]
            pack.blobs.append((kind, blob_id, pack.size, len(sealed), ulen))
            pack.header.append(header_entry(kind, blob_id, len(sealed), ulen))
            pack.parts.append(sealed)
            pack.size += len(sealed)
            if pack.size >= self.pack_size:
                full = pack
                self._open[kind] = _OpenPack()
        pack.hash_parts(wait=False)
        if full is not None:
            self._submit_upload(full)

    def _submit_upload(self, pack: _OpenPack) -> None:
        self._upload_slots.acquire()
        try:
            fut = self._upload_pool.submit(self._upload, pack)
        except BaseException:
            self._upload_slots.release()
            raise
        with self._lock:
            self._uploads.add(fut)
        fut.add_done_callback(self._upload_done)

    def _upload_done(self, fut: Future[Any]) -> None:
        with self._lock:
            self._uploads.discard(fut)
        self._upload_slots.release()
        exc = fut.exception()
        if exc is not None and self._error is None:
            self._error = exc

    def _upload(self, pack: _OpenPack) -> None:
        pack.parts.append(header_trailer(self.repo.key, b"".join(pack.header)))
        pack.hash_parts()
        pack_id = pack.digest.digest()
        try:
            write_parts(self.repo.backend, data_name(pack_id.hex()), pack.parts)
        except StorageError as e:
            with self._lock:
                for kind, blob_id, *_ in pack.blobs:
                    self._pending.pop((kind, blob_id), None)
            raise EngineError(f"cannot upload pack {pack_id.hex()}: {e}") from e
        finally:
            pack.parts.clear()
        index = self.repo.index
        with self._lock:
            for kind, blob_id, offset, length, ulen in pack.blobs:
                index.add(kind, blob_id, pack_id, offset, length, ulen)
                self._pending.pop((kind, blob_id), None)
            self._records.append(PackRecord(pack_id, pack.blobs))
            # an index file every 16 packs, 50,000 blobs or 5 minutes: after a crash, the next run
            # finds (and does not upload again) what the packs named by an index hold
            many = (
                len(self._records) >= INDEX_EVERY_PACKS
                or sum(len(r.blobs) for r in self._records) >= MAX_INDEX_ENTRIES
                or time.monotonic() - self._last_index >= INDEX_EVERY_SECONDS
            )
        if many:
            self._write_index()

    def _write_index(self) -> None:
        with self._index_lock:
            with self._lock:
                records, self._records = self._records, []
                self._last_index = time.monotonic()
            while records:
                batch: list[PackRecord] = []
                count = 0
                while records and (not batch or count + len(records[0].blobs) <= MAX_INDEX_ENTRIES):
                    count += len(records[0].blobs)
                    batch.append(records.pop(0))
                try:
                    written = self.repo.save_json("index", index_document(batch))
                    # its blobs are in the held index already: a refresh need not read the file back
                    self.repo.index.loaded_files.add(written)
                except BaseException:
                    with self._lock:
                        self._records[:0] = batch + records
                    raise

    # --- durability ---------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Make every blob saved before this call durable: finish jobs, upload open packs, write the index."""
        self._check()
        with self._flush_lock:
            with self._lock:
                jobs = set(self._jobs)
            wait(jobs)
            with self._lock:
                packs = [p for p in self._open.values() if p.blobs]
                self._open = {DATA: _OpenPack(), TREE: _OpenPack()}
            for pack in packs:
                self._submit_upload(pack)
            with self._lock:
                uploads = set(self._uploads)
            wait(uploads)
            self._check()
            self._write_index()

    checkpoint = flush

    def run_in_pool(self, fn: Callable[[], Any]) -> Future[Any]:
        return self._pool.submit(fn)
