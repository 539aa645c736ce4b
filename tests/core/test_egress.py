"""The egress guard (core/egress.py) and the S3 export client held to it (recovery/s3export.py).

Every refusal is asserted to happen before any connection: `socket.create_connection` and `socket.connect`
are watched, and host names resolve through a patched `getaddrinfo`, so no test sends traffic anywhere but
loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from boxvault.core import egress
from boxvault.core.egress import EgressRefused
from support.loopback import SECRET, recorder

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "10.1.2.3": "private",
    "172.16.5.4": "private",
    "192.168.0.10": "private",
    "169.254.169.254": "link-local",  # cloud metadata services
    "0.0.0.0": "unspecified",
    "224.0.0.251": "multicast",
    "240.0.0.1": "reserved",
    "100.64.0.1": "reserved",  # carrier-grade NAT: not private, not global
    "192.0.2.7": "private",  # documentation
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::5": "private",
    "fd12:3456::1": "private",
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.0.0.1": "private",
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1": "loopback",  # 6to4 of 127.0.0.1
}
PUBLIC = ["8.8.8.8", "1.1.1.1", "52.216.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection attempt is recorded and fails: a refusal must come before any of them."""
    attempts: list[Any] = []

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        raise AssertionError(f"connection attempted to {address}")

    def connect(self: socket.socket, address: Any) -> Any:
        attempts.append(address)
        raise AssertionError(f"connection attempted to {address}")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return attempts


def fake_dns(table: dict[str, list[str]]) -> Any:
    """A getaddrinfo that answers the table's names (any other name: as the real one would)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in table:
            out = []
            for address in table[host]:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, int(port or 0), 0, 0) if ":" in address else (address, int(port or 0))
                out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
            return out
        return real(host, port, *args, **kwargs)

    return getaddrinfo


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_every_non_public_address_is_refused_with_its_reason(address: str, no_connections: list[Any]) -> None:
    assert egress.refusal(ipaddress.ip_address(address)) is not None
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(EgressRefused, match=f"endpoint not allowed: {REFUSED[address]} address"):
        egress.check_url(f"http://{host}:9000", allow=[])
    assert no_connections == []


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    pinned = egress.check_url(f"https://{host}", allow=[])
    assert ipaddress.ip_address(pinned.address) == ipaddress.ip_address(address)
    assert pinned.port == 443


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (["127.0.0.1"], "loopback"),
        (["10.0.0.8"], "private"),
        (["169.254.169.254"], "link-local"),
        (["::ffff:127.0.0.1"], "loopback"),
        (["fe80::1"], "link-local"),
        (["8.8.8.8", "192.168.1.1"], "private"),  # ANY bad answer refuses, even after a good one
        (["2606:4700:4700::1111", "::1"], "loopback"),
    ],
)
def test_host_names_resolving_to_internal_addresses_are_refused_before_any_connection(
    answers: list[str], reason: str, monkeypatch: pytest.MonkeyPatch, no_connections: list[Any]
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns({"storage.attacker.test": answers}))
    with pytest.raises(EgressRefused, match=f"{reason} address"):
        egress.check_url("https://storage.attacker.test", allow=[])
    # and through the S3 export client, as a tenant's location would reach it
    from boxvault.engine.storage.base import StorageError
    from boxvault.engine.storage.location import parse_location
    from boxvault.recovery.s3export import S3Target

    with pytest.raises(StorageError, match=f"endpoint not allowed: {reason} address"):
        S3Target(
            parse_location("s3:https://storage.attacker.test/bucket/x"),
            access_key_id="k",
            secret_access_key="s",
        )
    assert no_connections == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://8.8.8.8/",
        "file:///etc/passwd",
        "gopher://8.8.8.8:70/",
        "http://user:pw@8.8.8.8/",
        "http://8.8.8.8@127.0.0.1/",
        "http:///nohost",
        "http://[::1/",
        "http://8.8.8.8:99999/",
        "http://2130706433/",  # 127.0.0.1 spelt as a number: resolves, and is refused as loopback
        "http://0x7f.1/",
    ],
)
def test_odd_urls_are_refused(url: str, no_connections: list[Any]) -> None:
    with pytest.raises(EgressRefused, match="endpoint not allowed"):
        egress.check_url(url, allow=[])
    assert no_connections == []


def test_unresolvable_names_are_refused_without_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror("Name or service not known (internal resolver 10.0.0.53)")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(EgressRefused) as info:
        egress.check_url("https://nowhere.test", allow=[])
    assert str(info.value) == "endpoint not allowed: the host name does not resolve"


def test_the_operator_allow_list_opens_a_network(settings: Any) -> None:
    with pytest.raises(EgressRefused):
        egress.check_url("http://127.0.0.1:9000", allow=[])
    assert egress.check_url("http://127.0.0.1:9000", allow=egress.parse_networks("127.0.0.0/8")).port == 9000
    settings.BOXVAULT_EGRESS_ALLOW = ["::1/128", "127.0.0.1/32"]
    mapped = egress.check_url("http://[::ffff:127.0.0.1]:9000").address
    assert ipaddress.ip_address(mapped) == ipaddress.ip_address("::ffff:127.0.0.1")
    with pytest.raises(EgressRefused):
        egress.check_url("http://127.0.0.2:9000")  # outside the allowed /32
    with pytest.raises(ValueError, match="not a network"):
        egress.parse_networks("10.0.0.0/8, intranet")


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[dict[str, list[str]]]:
    """`bucket.rebind.test` answers loopback (allowed) at check time; the test changes it afterwards."""
    settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.1/32"]
    table = {"bucket.rebind.test": ["127.0.0.1"]}
    monkeypatch.setattr(socket, "getaddrinfo", fake_dns(table))
    yield table


def test_the_connection_goes_to_the_checked_address_whatever_dns_says_later(
    rebinding: dict[str, list[str]],
) -> None:
    def answer(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, b"ok"

    with recorder(answer) as server:
        pinned = egress.check_url(f"http://bucket.rebind.test:{server.port}")
        assert pinned.address == "127.0.0.1"
        # DNS rebinding: another address now (loopback too, where nothing listens: a regression fails here
        # without sending traffic anywhere but loopback)
        rebinding["bucket.rebind.test"] = ["127.0.0.2"]
        session = egress.pinned_session(pinned)
        response = session.get(f"http://bucket.rebind.test:{server.port}/x", timeout=5)
        assert response.status_code == 200
        # it reached the checked address, with the name as the Host header
        assert server.seen[-1].headers["host"] == f"bucket.rebind.test:{server.port}"
        refused = (EgressRefused, requests.exceptions.InvalidURL)  # requests wraps the adapter's ValueError
        with pytest.raises(refused, match="another host"):  # the session goes nowhere else
            session.get(f"http://127.0.0.1:{server.port}/x", timeout=5)
        with pytest.raises(refused, match="another host"):
            session.get("http://169.254.169.254/latest/meta-data/", timeout=5)
        assert len(server.seen) == 1


def _s3(server_url: str, **kwargs: Any) -> Any:
    from boxvault.engine.storage.location import parse_location
    from boxvault.recovery.s3export import S3Target

    return S3Target(
        parse_location(f"s3:{server_url}/bucket/exports"),
        access_key_id="tenant-key-id",
        secret_access_key="tenant-secret",
        **kwargs,
    )


def test_s3_export_never_follows_a_redirect_and_never_echoes_the_answer(settings: Any) -> None:
    from boxvault.engine.storage.base import StorageError

    settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.1/32"]
    with recorder() as server:  # PUT/DELETE -> 302 to the secrets; GET -> the secrets
        target = _s3(server.url)
        for action in (
            lambda: target.put("a.txt", b"data"),
            lambda: target.delete("a.txt"),
            lambda: target.upload("b.bin", iter([b"x" * 10]), 10),
        ):
            with pytest.raises(StorageError) as info:
                action()
            message = str(info.value)
            assert "redirect" in message and "never followed" in message
            assert SECRET not in message and "302" not in message and "meta-data" not in message
        assert server.methods == ["PUT", "DELETE", "PUT"]  # no GET: nothing followed

    def leaky(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 403, {"Content-Type": "text/plain"}, f"denied; btw {SECRET}".encode()

    with recorder(leaky) as server:
        with pytest.raises(StorageError) as info:
            _s3(server.url).put("a.txt", b"data")
        assert SECRET not in str(info.value) and "403" not in str(info.value)


def test_s3_export_signs_with_the_tenants_keys_only(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.1/32"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVERSOWNKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "server-session")
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")  # not used either: the session is pinned

    def ok(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return 200, {"ETag": '"e"'}, b""

    with recorder(ok) as server:
        _s3(server.url).put("a.txt", b"data")
        headers = server.seen[-1].headers
        assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=tenant-key-id/")
        assert "AKIASERVERSOWNKEY" not in str(headers) and "server-session" not in str(headers)
        assert server.seen[-1].path == "/bucket/exports/a.txt"

    from boxvault.engine.storage.base import StorageError
    from boxvault.engine.storage.location import parse_location
    from boxvault.recovery.s3export import S3Target

    with pytest.raises(StorageError, match="access key id and a secret"):
        S3Target(parse_location("s3:https://8.8.8.8/b"), access_key_id="", secret_access_key="")


def test_s3_export_multipart_against_moto(settings: Any) -> None:
    """Large files go up in parts; what lands is byte-identical (moto server, a real S3 implementation)."""
    from support.emulators import moto_s3

    settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.1/32"]
    from boxvault.engine.storage.location import parse_location
    from boxvault.recovery.s3export import S3Target

    with moto_s3() as s3:
        env = s3.env
        target = S3Target(
            parse_location(s3.location("mp")),
            access_key_id=env["AWS_ACCESS_KEY_ID"],
            secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            part_size=5 * 1024 * 1024,
        )
        data = bytes(range(256)) * (12 * 4096)  # 12 MiB: three parts
        mib = 1 << 20
        target.upload("dir/big file+.bin", (data[i : i + mib] for i in range(0, len(data), mib)), len(data))
        target.put("small", b"tiny")
        import opendal

        from boxvault.engine.storage.credentials import operator_options

        scheme, options = operator_options(parse_location(s3.location("mp")), env)
        reader = opendal.Operator(scheme, **options)  # the operator's own client reads it back
        assert bytes(reader.read("dir/big file+.bin")) == data
        assert bytes(reader.read("small")) == b"tiny"


def test_s3_export_against_a_tarpit_fails_in_time(settings: Any) -> None:
    import time

    from boxvault.engine.storage.base import StorageError
    from support.loopback import tarpit

    settings.BOXVAULT_EGRESS_ALLOW = ["127.0.0.1/32"]
    with tarpit() as pit:
        target = _s3(pit.url, timeouts=(1.0, 1.0))
        started = time.monotonic()
        with pytest.raises(StorageError, match="did not answer in time"):
            target.put("a.txt", b"data")
        assert pit.accepted.is_set() and time.monotonic() - started < 5
