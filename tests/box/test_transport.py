"""The download's own HTTP connections (box/transport.py) against small servers on loopback: kept alive and
reused, dropped when the server closed them, TLS verified with the session's `verify` as `requests` does,
and left to the adapter's urllib3 pool whenever the session's adapter asks for more than a plain host."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from boxvault.box.transport import TRANSPORT_ERRORS, Getter, _ClientBody, _UrllibBody
from boxvault.core.egress import Pinned, pinned_session
from support.loopback import serving

BODY = b"0123456789abcdef" * 4096
LOOPBACK = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.close_after = False  # answer with `Connection: close`

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_GET(self) -> None:
        if self.path.startswith("/to/"):  # a redirect to a Location that is not a valid URI as it stands
            self.send_response(302)
            self.send_header("Location", "/files/a b/\u00e9t\u00e9".encode().decode("latin-1"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/files/") and self.path != "/files/a%20b/%C3%A9t%C3%A9":
            self.send_error(400, "not the expected path")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        if self.server.close_after:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def plain() -> Iterator[_Server]:
    with serving(_Server()) as server:
        yield server


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    """An HTTPS server with a certificate for 127.0.0.1 that no default bundle trusts; yields its PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "boxvault test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = tmp_path / "cert.pem"
    key_pem = tmp_path / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = _Server()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_pem, key_pem)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server):
        yield server, cert_pem


def _session(**settings: object) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    for name, value in settings.items():
        setattr(session, name, value)
    return session


def _read(getter: Getter, url: str) -> tuple[type, bytes]:
    body = getter.get(url, {}, (5.0, 5.0))
    out = bytearray()
    buf = memoryview(bytearray(10_000))
    while n := body.readinto(buf):
        out += buf[:n]
    body.finish()
    return type(body), bytes(out)


def test_one_connection_serves_one_get_after_another(plain: _Server) -> None:
    getter = Getter(_session())
    for _ in range(5):
        assert _read(getter, f"{plain.url}/file") == (_ClientBody, BODY)
    assert plain.connections == 1


def test_a_connection_the_server_closed_is_not_used_again(plain: _Server) -> None:
    plain.close_after = True
    getter = Getter(_session())
    for _ in range(3):
        assert _read(getter, f"{plain.url}/file") == (_ClientBody, BODY)
    assert plain.connections == 3


def test_a_half_read_body_drops_its_connection(plain: _Server) -> None:
    getter = Getter(_session())
    body = getter.get(f"{plain.url}/file", {}, (5.0, 5.0))
    body.readinto(memoryview(bytearray(100)))
    body.close()
    assert _read(getter, f"{plain.url}/file")[1] == BODY
    assert plain.connections == 2


def test_tls_is_verified_against_the_sessions_bundle(tls: tuple[_Server, Path]) -> None:
    server, cert = tls
    assert _read(Getter(_session(verify=str(cert))), f"{server.url}/file") == (_ClientBody, BODY)
    # requests' default bundle does not know this certificate: refused before any request is sent
    with pytest.raises(ssl.SSLCertVerificationError):
        Getter(_session()).get(f"{server.url}/file", {}, (5.0, 5.0))
    assert _read(Getter(_session(verify=False)), f"{server.url}/file") == (_ClientBody, BODY)
    # what requests itself decides for the same settings
    with pytest.raises(requests.exceptions.SSLError):
        _session().get(f"{server.url}/file", timeout=5)
    assert _session(verify=str(cert)).get(f"{server.url}/file", timeout=5).content == BODY


def test_an_adapter_that_asks_for_more_keeps_its_own_pool(plain: _Server) -> None:
    port = plain.server_address[1]
    session = pinned_session(Pinned(f"http://localhost:{port}", "http", "localhost", port, "127.0.0.1"))
    kind, data = _read(Getter(session), f"http://localhost:{port}/file")
    assert (kind, data) == (_UrllibBody, BODY)


def test_a_location_with_a_space_or_non_ascii_is_sent_encoded(plain: _Server) -> None:
    getter = Getter(_session())
    body = getter.follow(f"{plain.url}/to/file", {}, (5.0, 5.0))
    assert body.status == 200
    body.close()


def test_a_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
        port = s.getsockname()[1]
        with pytest.raises(TRANSPORT_ERRORS):
            Getter(_session()).get(f"http://127.0.0.1:{port}/file", {}, (2.0, 2.0))
