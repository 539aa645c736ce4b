"""The download's GET on the adapter's connection pool (box/download.py), against a small HTTP server on
loopback: redirects followed as `requests` would, `Range` kept across them, bodies read into a buffer."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from boxvault.box.download import MAX_REDIRECTS, _Getter

CONTENT = bytes(range(256)) * 4096  # 1 MiB


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/hop/"):
            left = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/hop/{left - 1}" if left > 1 else "/content")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/gzip":  # a server that compresses although asked for identity
            packed = gzip.compress(CONTENT)
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(packed)))
            self.end_headers()
            self.wfile.write(packed)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
        body = CONTENT[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _read_all(getter: _Getter, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    body = getter.follow(url, headers, (5.0, 5.0))
    out = bytearray()
    buf = memoryview(bytearray(100_000))
    while n := body.readinto(buf):
        out += buf[:n]
    body.finish()
    return body.status, bytes(out)


@pytest.mark.parametrize("direct", [True, False], ids=["pool", "requests"])
def test_redirects_are_followed_with_the_range(server: str, direct: bool) -> None:
    session = requests.Session()
    session.trust_env = not direct  # trust_env: the `requests` way, as with proxies configured
    getter = _Getter(session)
    assert getter._direct is direct
    assert _read_all(getter, f"{server}/content", {}) == (200, CONTENT)
    assert _read_all(getter, f"{server}/hop/3", {}) == (200, CONTENT)
    assert _read_all(getter, f"{server}/hop/2", {"Range": "bytes=1000-"}) == (206, CONTENT[1000:])
    assert _read_all(getter, f"{server}/gzip", {}) == (200, CONTENT)  # decoded, as the sha1 is Box's


def test_too_many_redirects_end_at_the_last_answer(server: str) -> None:
    session = requests.Session()
    session.trust_env = False
    body = _Getter(session).follow(f"{server}/hop/{MAX_REDIRECTS + 3}", {}, (5.0, 5.0))
    assert body.status == 302  # download() then reports "HTTP 302" and gives up; nothing loops forever
    body.close()
