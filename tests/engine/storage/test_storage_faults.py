"""Transient failures of an object store are retried with backoff; persistent ones are clear errors."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import TYPE_CHECKING

import pytest

from boxvault.engine.storage import StorageError, data_name, open_backend
from support.emulators import Emulator, FaultProxy, ProxyServer

if TYPE_CHECKING:  # conftest is not importable by name when several directories have one
    from conftest import Target


def oid(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _through(target: Target, proxy: FaultProxy | ProxyServer, prefix: str) -> tuple[str, dict[str, str]]:
    assert target.emulator is not None
    access = target.emulator.access.with_port(proxy.port)
    return access.location(prefix), access.env


def test_http_503_and_dropped_connections_are_retried(store_target: Target) -> None:
    assert store_target.emulator is not None
    with FaultProxy(store_target.emulator.port) as proxy:
        location, env = _through(store_target, proxy, "retry-" + oid("x")[:8])
        backend = open_backend(location, env)
        data = os.urandom(300_000)
        name = data_name(oid("retried"))
        proxy.fail(3)
        backend.write(name, data)
        assert proxy.failures == 3
        proxy.fail(2)
        assert backend.read(name, 1000, 5000) == data[1000:6000]
        proxy.fail(2)
        assert list(backend.list("data")) == [(name, len(data))]
        assert proxy.failures == 7


def test_without_retries_a_transient_failure_is_a_clear_error(store_target: Target) -> None:
    assert store_target.emulator is not None
    with FaultProxy(store_target.emulator.port) as proxy:
        location, env = _through(store_target, proxy, "noretry")
        backend = open_backend(location, {**env, "BOXVAULT_STORAGE_RETRIES": "0"})
        proxy.fail(1)
        with pytest.raises(StorageError, match="cannot (write|stat)") as err:
            backend.write("keys/" + oid("k"), b"key")
        assert location in str(err.value)
        assert proxy.failures == 1


def test_a_stalled_server_times_out_and_is_retried(store_target: Target) -> None:
    assert store_target.emulator is not None
    with FaultProxy(store_target.emulator.port) as proxy:
        location, env = _through(store_target, proxy, "stall")
        backend = open_backend(location, {**env, "BOXVAULT_STORAGE_TIMEOUT": "1"})
        backend.write("keys/" + oid("k"), b"key")
        proxy.hang(1)
        started = time.monotonic()
        assert backend.read("keys/" + oid("k")) == b"key"
        assert time.monotonic() - started >= 1.0
        assert proxy.failures == 1
        proxy.hang(1)
        stubborn = open_backend(
            location, {**env, "BOXVAULT_STORAGE_TIMEOUT": "1", "BOXVAULT_STORAGE_RETRIES": "0"}
        )
        with pytest.raises(StorageError, match="cannot read keys/"):
            stubborn.read("keys/" + oid("k"))


def test_emulator_restart_during_operations(gs_emulator: Emulator) -> None:
    # connection refused for a second: the retry layer rides it out (gcp-storage-emulator restarts fastest)
    backend = open_backend(gs_emulator.location("restart-" + oid("r")[:8]), gs_emulator.env)
    backend.write("keys/" + oid("before"), b"before")
    gs_emulator.stop()
    errors: list[BaseException] = []

    def write_during_outage() -> None:
        try:
            backend.write("keys/" + oid("during"), b"during")  # connection refused until the restart
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    writer = threading.Thread(target=write_during_outage)
    started = time.monotonic()
    writer.start()
    time.sleep(1.0)
    gs_emulator.start()  # from the main thread: the emulator lives as long as the thread that started it
    writer.join(timeout=60)
    assert not writer.is_alive() and errors == []
    assert time.monotonic() - started >= 0.9
    assert backend.read("keys/" + oid("during")) == b"during"
    assert backend.read("keys/" + oid("before")) == b"before"


def test_wrong_azure_key_is_a_clear_error(azure_emulator: Emulator) -> None:
    # (moto and gcp-storage-emulator do not check credentials at all)
    env = {**azure_emulator.env, "AZURE_ACCOUNT_KEY": "d3JvbmcK" * 8, "BOXVAULT_STORAGE_RETRIES": "0"}
    backend = open_backend(azure_emulator.location("wrong-key"), env)
    with pytest.raises(StorageError, match=r"cannot \w+ keys/.*AuthorizationFailure"):
        backend.write("keys/" + oid("k"), b"key")


@pytest.mark.parametrize(
    ("location", "env", "message"),
    [
        ("azure:c:/", {}, "AZURE_ACCOUNT_NAME is not set"),
        ("azure:c:/", {"AZURE_ACCOUNT_NAME": "a"}, "AZURE_ACCOUNT_KEY or AZURE_ACCOUNT_SAS"),
        ("s3:http://127.0.0.1:1/b", {"AWS_ACCESS_KEY_ID": "x"}, "AWS_SECRET_ACCESS_KEY"),
        ("s3:http://127.0.0.1:1/b", {"BOXVAULT_STORAGE_RETRIES": "many"}, "BOXVAULT_STORAGE_RETRIES"),
    ],
)
def test_missing_credentials_are_reported_before_any_request(
    location: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(StorageError, match=message):
        open_backend(location, env)


def test_calls_release_the_gil_while_waiting_for_the_network(store_target: Target) -> None:
    # the proxy runs on Python threads of this process: a call that kept the GIL while waiting would hang
    assert store_target.emulator is not None
    proxy = ProxyServer(store_target.emulator.port)
    location, env = _through(store_target, proxy, "gil")
    backend = open_backend(location, {**env, "BOXVAULT_STORAGE_LIST_PAGE_SIZE": "20"})
    results: list[object] = []

    def work() -> None:
        for i in range(60):
            backend.write("index/" + oid(str(i)), b"i")
        results.append(len(list(backend.list("index"))))
        results.append(backend.read("index/" + oid("7")))
        backend.delete("index/" + oid("7"))
        results.append(backend.exists("index/" + oid("7")))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "a storage call kept the GIL while waiting for the network"
    assert results == [60, b"i", False]
