"""Every backend behaves the same: the contract the repository engine relies on."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from boxvault.engine.storage import AlreadyExists, Backend, NotFound, ShortRead, StorageError, data_name

if TYPE_CHECKING:  # conftest is not importable by name when several directories have one
    from conftest import Target


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def test_write_read_size_exists_delete(backend: Backend) -> None:
    data = bytes(range(256)) * 5
    name = data_name(oid("a"))
    assert not backend.exists(name)
    backend.write(name, data)
    assert backend.exists(name)
    assert backend.read(name) == data
    assert backend.size(name) == len(data)
    backend.delete(name)
    assert not backend.exists(name)
    backend.delete(name)  # idempotent
    with pytest.raises(NotFound) as err:
        backend.read(name)
    assert err.value.name == name


def test_empty_object(backend: Backend) -> None:
    backend.write("keys/" + oid("empty"), b"")
    assert backend.read("keys/" + oid("empty")) == b""
    assert backend.size("keys/" + oid("empty")) == 0
    assert list(backend.list("keys")) == [("keys/" + oid("empty"), 0)]


def test_range_reads(backend: Backend) -> None:
    data = os.urandom(100_000)
    name = "index/" + oid("range")
    backend.write(name, data)
    assert backend.read(name, 0, 10) == data[:10]
    assert backend.read(name, 12_345, 1) == data[12_345:12_346]
    assert backend.read(name, 99_990, 10) == data[-10:]
    assert backend.read(name, 50_000) == data[50_000:]
    assert backend.read(name, 7, 0) == b""


def test_truncation_is_a_short_read(backend: Backend) -> None:
    name = "snapshots/" + oid("short")
    backend.write(name, b"0123456789")
    with pytest.raises(ShortRead, match="wanted 5 bytes at offset 8, got 2") as err:
        backend.read(name, 8, 5)
    assert err.value.name == name
    with pytest.raises(ShortRead):
        backend.read(name, 20, 5)


def test_missing_objects(backend: Backend) -> None:
    name = "snapshots/" + oid("missing")
    with pytest.raises(NotFound):
        backend.read(name)
    with pytest.raises(NotFound):
        backend.read(name, 3, 4)
    with pytest.raises(NotFound):
        backend.size(name)
    assert not backend.exists(name)
    assert list(backend.list("snapshots")) == []
    assert list(backend.list("data")) == []


def test_list_returns_restic_names_and_sizes(backend: Backend) -> None:
    written = {
        "config": b"c",
        "keys/" + oid("k"): b"kk",
        "index/" + oid("i"): b"iii",
        "snapshots/" + oid("s"): b"ssss",
        "locks/" + oid("l"): b"lllll",
        data_name(oid("d1")): b"d" * 6,
        data_name(oid("d2")): b"d" * 7,
    }
    for name, data in written.items():
        backend.write(name, data)
    for directory in ("keys", "index", "snapshots", "locks", "data"):
        expected = sorted((n, len(d)) for n, d in written.items() if n.startswith(directory + "/"))
        assert sorted(backend.list(directory)) == expected
    assert sorted(backend.list("")) == sorted((n, len(d)) for n, d in written.items())
    assert sorted(backend.list(f"data/{oid('d1')[:2]}")) == [(data_name(oid("d1")), 6)]


def test_repositories_under_neighbouring_prefixes_stay_apart(target: Target) -> None:
    a = target.open()
    b = dataclasses.replace(target, location=target.location + "x").open()
    a.write("keys/" + oid("a"), b"a")
    b.write("keys/" + oid("b"), b"b")
    assert list(a.list("keys")) == [("keys/" + oid("a"), 1)]
    assert list(b.list("")) == [("keys/" + oid("b"), 1)]
    assert not a.exists("keys/" + oid("b"))


def test_config_is_never_overwritten(backend: Backend) -> None:
    backend.write("config", b"first")
    with pytest.raises(AlreadyExists) as err:
        backend.write("config", b"other")  # same size, different repository
    assert err.value.name == "config"
    assert backend.read("config") == b"first"


def test_content_addressed_rewrite_is_idempotent_but_never_replaces(backend: Backend) -> None:
    name = data_name(oid("pack"))
    backend.write(name, b"pack-bytes")
    backend.write(name, b"pack-bytes")  # a retried upload whose first attempt landed
    with pytest.raises(AlreadyExists):
        backend.write(name, b"longer pack bytes")
    assert backend.read(name) == b"pack-bytes"


def test_locks_are_overwritten(backend: Backend) -> None:
    name = "locks/" + oid("lock")
    backend.write(name, b"old lock")
    backend.write(name, b"refreshed lock")
    assert backend.read(name) == b"refreshed lock"
    assert list(backend.list("locks")) == [(name, 14)]


def test_concurrent_create_has_exactly_one_winner(target: Target) -> None:
    if target.kind == "gs":
        pytest.skip("gcp-storage-emulator ignores ifGenerationMatch=0; real GCS honours it")
    backends = [target.open() for _ in range(6)]
    contents = [f"repository-{i}".encode() for i in range(6)]  # equal sizes: only the condition decides
    barrier = threading.Barrier(len(backends))
    outcomes: list[str] = [""] * len(backends)

    def create(i: int) -> None:
        barrier.wait()
        try:
            backends[i].write("config", contents[i])
            outcomes[i] = "won"
        except AlreadyExists:
            outcomes[i] = "lost"

    with ThreadPoolExecutor(len(backends)) as pool:
        list(pool.map(create, range(len(backends))))
    assert outcomes.count("won") == 1, outcomes
    assert backends[0].read("config") == contents[outcomes.index("won")]


def test_large_object_is_never_visible_partially(backend: Backend) -> None:
    data = os.urandom(40 * 2**20)
    name = data_name(oid("large"))
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                seen.append(backend.size(name))
            except NotFound:
                pass
            seen.extend(size for listed, size in backend.list("data") if listed == name)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        backend.write(name, data)
    finally:
        done.set()
        watcher.join()
    assert set(seen) <= {len(data)}, "a partial object was visible"
    assert backend.size(name) == len(data)
    assert hashlib.sha256(backend.read(name)).digest() == hashlib.sha256(data).digest()
    assert backend.read(name, len(data) - 4096, 4096) == data[-4096:]
    assert backend.read(name, 20 * 2**20, 1 << 20) == data[20 * 2**20 : 21 * 2**20]


# gcp-storage-emulator slows down quadratically with the object count and ignores maxResults (no paging)
OBJECTS_PER_PREFIX = {"local": 10, "s3": 2, "azure": 2, "gs": 1}


def test_many_objects_under_every_hex_prefix_with_paging(target: Target) -> None:
    # pages of 100 make S3 and Azure listings follow continuation tokens many times over
    backend = target.open(BOXVAULT_STORAGE_LIST_PAGE_SIZE="100")
    per_prefix = OBJECTS_PER_PREFIX[target.kind]
    ids = [f"{p:02x}" + oid(f"{p}-{i}")[2:] for p in range(256) for i in range(per_prefix)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: backend.write(data_name(i), i.encode()[:8]), ids))
    backend.write("index/" + oid("idx"), b"index")
    listed = list(backend.list("data"))
    assert len(listed) == len(ids)
    assert sorted(listed) == sorted((data_name(i), 8) for i in ids)
    assert {name.split("/")[1] for name, _ in listed} == {f"{p:02x}" for p in range(256)}
    assert list(backend.list("index")) == [("index/" + oid("idx"), 5)]


@pytest.mark.parametrize(
    "bad", ["", "/config", "../config", "data/../../x", "keys//x", "keys/./x", "a\\b", "x y"]
)
def test_bad_names_are_refused(backend: Backend, bad: str) -> None:
    with pytest.raises(StorageError, match="invalid object name"):
        backend.read(bad)
    with pytest.raises(StorageError, match="invalid object name"):
        backend.write(bad, b"x")


def test_bad_list_directory_is_refused(backend: Backend) -> None:
    with pytest.raises(StorageError, match="invalid object name"):
        list(backend.list("../other"))


def test_usable_from_async_code(backend: Backend) -> None:
    # the portal's async views and the task queue may call the (blocking) API with an event loop running
    async def use() -> list[tuple[str, int]]:
        backend.write("snapshots/" + oid("async"), b"snap")
        assert backend.read("snapshots/" + oid("async")) == b"snap"
        return list(backend.list("snapshots"))

    assert asyncio.run(use()) == [("snapshots/" + oid("async"), 4)]
