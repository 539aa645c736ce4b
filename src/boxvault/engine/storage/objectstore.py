"""Object-store backends (S3, Azure Blob, GCS) through Apache OpenDAL.

One operator per backend, shared by every thread: OpenDAL's blocking read/write/stat/delete release the GIL,
so packs upload in parallel from the engine's thread pool; listing goes through the async operator because
the blocking lister does not. Transient failures (5xx, throttling, dropped connections) are
retried by OpenDAL's RetryLayer with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import opendal
import opendal.exceptions as dal_errors
import opendal.types
from opendal.layers import RetryLayer, TimeoutLayer

from .base import (
    AlreadyExists,
    NotFound,
    ShortRead,
    StorageError,
    check_directory,
    check_name,
    is_overwritable,
    same_object_allowed,
)
from .credentials import operator_options
from .location import Location
from .objectlock import LockPolicy, S3LockClient, is_locked_kind, lock_policy

# OpenDAL's exception classes do not share a base class besides Exception
_DAL_ERRORS: tuple[type[Exception], ...] = tuple(
    cls for cls in vars(dal_errors).values() if isinstance(cls, type) and issubclass(cls, Exception)
)

# set explicitly: some servers (gcp-storage-emulator) answer a typeless upload with JSON OpenDAL rejects
_CONTENT_TYPE = "application/octet-stream"

# Backoff 0.2 s, 0.4 s, ... capped at 10 s: about a minute of outage before an operation gives up.
DEFAULT_RETRIES = 8
DEFAULT_TIMEOUT = 60.0  # seconds, for stat/delete/list requests
DEFAULT_IO_TIMEOUT = 300.0  # seconds, for reading or writing one object


class ObjectStoreBackend:
    """A restic repository under a prefix of an S3 bucket, Azure container or GCS bucket."""

    def __init__(
        self,
        location: str,
        scheme: str,
        options: Mapping[str, str],
        *,
        retries: int = DEFAULT_RETRIES,
        list_page_size: int | None = None,
        timeout: float | None = None,
        lock: LockPolicy | None = None,
        prefix: str = "",
    ) -> None:
        self.location = location
        # object lock (S3 only): locked writes, retention checks and versioned deletes go through botocore
        self.lock = S3LockClient(options, lock, prefix=prefix) if lock else None
        self.scheme = scheme
        self._page_size = list_page_size
        operator = opendal.Operator(scheme, **options)
        # A stalled connection fails (and is retried) instead of hanging a backup for ever. Object reads and
        # writes get longer: a 16 MiB pack on a slow uplink takes minutes.
        operator = operator.layer(
            TimeoutLayer(timeout=timeout or DEFAULT_TIMEOUT, io_timeout=timeout or DEFAULT_IO_TIMEOUT)
        )
        if retries > 0:
            operator = operator.layer(
                RetryLayer(max_times=retries, factor=2.0, jitter=True, min_delay=0.2, max_delay=10.0)
            )
        self._op = operator
        self._async_op = operator.to_async_operator()  # keeps the layers
        self._conditional = bool(operator.capability().write_with_if_not_exists)

    def __repr__(self) -> str:
        return f"ObjectStoreBackend({self.location!r})"

    def _fail(self, action: str, name: str, error: Exception) -> StorageError:
        if isinstance(error, dal_errors.NotFound):
            return NotFound(name)
        return StorageError(f"cannot {action} {name} at {self.location}: {_message(error)}", name)

    def read(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        check_name(name)
        if offset < 0 or (length is not None and length < 0):
            raise StorageError(f"invalid range for {name}: offset {offset}, length {length}", name)
        if length == 0:
            if not self.exists(name):
                raise NotFound(name)
            return b""
        try:
            if offset == 0 and length is None:
                data = bytes(self._op.read(name))
            else:
                data = bytes(self._op.read(name, offset=offset, size=length))
        except _DAL_ERRORS as e:
            if length is not None and not isinstance(e, dal_errors.NotFound):
                # a range past the end: report it as the truncation it is
                stored = self.size(name)
                if stored < offset + length:
                    raise ShortRead(name, offset, length, max(0, stored - offset)) from None
            raise self._fail("read", name, e) from e
        if length is not None and len(data) != length:
            raise ShortRead(name, offset, length, len(data))
        return data

    def size(self, name: str) -> int:
        check_name(name)
        try:
            meta = self._op.stat(name)
        except _DAL_ERRORS as e:
            raise self._fail("stat", name, e) from e
        if meta.is_dir:
            raise NotFound(name)
        return int(meta.content_length)

    def exists(self, name: str) -> bool:
        try:
            self.size(name)
        except NotFound:
            return False
        return True

    def write(self, name: str, data: bytes) -> None:
        check_name(name)
        if is_overwritable(name):
            self._put(name, data)
            return
        # Checking first skips re-uploading an object that a retried or resumed run already stored, and
        # catches overwrites on stores (and emulators) that ignore the create-only condition.
        if self._existing_is_same(name, len(data)):
            return
        if self.lock and is_locked_kind(name):
            try:
                self.lock.put(name, data, if_not_exists=True)
            except FileExistsError:
                if not self._existing_is_same(name, len(data)):
                    raise AlreadyExists(name) from None
            return
        if not self._conditional:
            self._put(name, data)
            return
        try:
            self._op.write(name, data, if_not_exists=True, content_type=_CONTENT_TYPE)
        except (dal_errors.ConditionNotMatch, dal_errors.AlreadyExists):
            # also reached when a retried upload's first attempt had landed: accept the same object
            if not self._existing_is_same(name, len(data)):
                raise AlreadyExists(name) from None
        except _DAL_ERRORS as e:
            raise self._fail("write", name, e) from e

    def _existing_is_same(self, name: str, size: int) -> bool:
        """True if an equal object is stored; AlreadyExists if a different one is; False if none."""
        try:
            stored = self.size(name)
        except NotFound:
            return False
        if same_object_allowed(name) and stored == size:
            return True
        raise AlreadyExists(name)

    def _put(self, name: str, data: bytes) -> None:
        try:
            self._op.write(name, data, content_type=_CONTENT_TYPE)
        except _DAL_ERRORS as e:
            raise self._fail("write", name, e) from e

    def locked_until(self, names: Sequence[str]) -> dict[str, datetime.datetime]:
        """Objects among ``names`` under an unexpired object lock, with their retain-until dates."""
        if self.lock is None:
            return {}
        return self.lock.locked(names)

    def delete(self, name: str) -> None:
        check_name(name)
        if self.lock:
            self.lock.delete(name)  # ObjectLocked before the retain-until date
            return
        try:
            self._op.delete(name)
        except dal_errors.NotFound:
            pass
        except _DAL_ERRORS as e:
            raise self._fail("delete", name, e) from e

    def list(self, directory: str) -> Iterator[tuple[str, int]]:
        # Through the async operator on a private event loop: the blocking lister keeps the GIL while it waits
        # for each page, which would stall every other thread (pack uploads) for the whole listing.
        prefix = check_directory(directory)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            yield from self._list_on_own_loop(prefix)
            return
        # called from async code: a second event loop cannot run on this thread
        with ThreadPoolExecutor(1) as pool:
            yield from pool.submit(lambda: list(self._list_on_own_loop(prefix))).result()

    def _list_on_own_loop(self, prefix: str) -> Iterator[tuple[str, int]]:
        path = f"{prefix}/" if prefix else ""
        loop = asyncio.new_event_loop()
        try:
            try:
                pages = loop.run_until_complete(self._start_listing(path))
                while True:
                    batch, done = loop.run_until_complete(_next_batch(pages))
                    yield from batch
                    if done:
                        return
            except dal_errors.NotFound:
                return
            except _DAL_ERRORS as e:
                raise self._fail("list", prefix or "/", e) from e
        finally:
            loop.close()

    async def _start_listing(self, path: str) -> AsyncIterator[opendal.types.Entry]:
        if self._page_size:
            lister = await self._async_op.list(path, recursive=True, limit=self._page_size)
        else:
            lister = await self._async_op.list(path, recursive=True)
        return aiter(lister)

    def close(self) -> None:
        pass


def open_object_store(location: Location, original: str, env: Mapping[str, str]) -> ObjectStoreBackend:
    scheme, options = operator_options(location, env)
    retries = _number(env, "BOXVAULT_STORAGE_RETRIES", DEFAULT_RETRIES)
    page_size = _number(env, "BOXVAULT_STORAGE_LIST_PAGE_SIZE", 0) or None
    timeout = _number(env, "BOXVAULT_STORAGE_TIMEOUT", 0) or None
    lock = lock_policy(env, location.kind)
    try:
        return ObjectStoreBackend(
            original,
            scheme,
            options,
            retries=retries,
            list_page_size=page_size,
            timeout=timeout,
            lock=lock,
            prefix=location.path,
        )
    except _DAL_ERRORS as e:
        raise StorageError(f"cannot open {original}: {_message(e)}") from e


async def _next_batch(
    entries: AsyncIterator[opendal.types.Entry], count: int = 1000
) -> tuple[list[tuple[str, int]], bool]:
    """Up to ``count`` files (directories skipped) and whether the listing is complete."""
    batch: list[tuple[str, int]] = []
    while len(batch) < count:
        try:
            entry = await anext(entries)
        except StopAsyncIteration:
            return batch, True
        meta = entry.metadata
        if not meta.is_dir and not entry.path.endswith("/"):
            batch.append((entry.path, int(meta.content_length)))
    return batch, False


def _number(env: Mapping[str, str], variable: str, default: int) -> int:
    text = env.get(variable, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise StorageError(f"{variable} must be a whole number >= 0, not {text!r}")
    return value


def _message(error: Exception) -> str:
    # OpenDAL's messages are multi-line with context; the first line plus the kind is enough for a user
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


__all__ = ["DEFAULT_RETRIES", "ObjectStoreBackend", "open_object_store"]
