"""Hostile servers on loopback for the egress tests: one that records what reaches it and answers what it is
told (redirects, secrets, plain text), and a tarpit that accepts connections and never answers."""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

SECRET = "AKIAOPERATORSECRET-metadata-token-4f1c"

# (status, headers, body) for a request (method, path)
Answer = tuple[int, dict[str, str], bytes]
Responder = Callable[[str, str], Answer]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Recorder:
    url: str
    port: int
    seen: list[Seen] = field(default_factory=list)
    connections: list[int] = field(default_factory=lambda: [0])

    @property
    def methods(self) -> list[str]:
        return [s.method for s in self.seen]


def secret_answer(method: str, path: str) -> Answer:
    """A file server / metadata service: redirects writes to its secrets, answers reads with them."""
    if method in ("GET", "HEAD"):
        return 200, {"Content-Type": "text/plain"}, f"SECRET={SECRET}\n".encode()
    return 302, {"Location": "/latest/meta-data/iam/security-credentials/"}, b""


def plain_text(method: str, path: str) -> Answer:
    return 200, {"Content-Type": "text/plain"}, b"hello, I am not Box"


ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)


@contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """`server` answering on a daemon thread until the block ends, then shut down and closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def recorder(responder: Responder = secret_answer) -> Iterator[Recorder]:
    state = Recorder(url="", port=0)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            state.connections[0] += 1
            super().setup()

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            state.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            status, headers, body = responder(self.command, self.path)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}"
    with serving(server):
        yield state


@dataclass
class Tarpit:
    url: str
    accepted: threading.Event


@contextmanager
def tarpit() -> Iterator[Tarpit]:
    """Accepts every connection and never answers a byte (until closed)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    accepted = threading.Event()
    held: list[socket.socket] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)
            accepted.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield Tarpit(url=f"http://127.0.0.1:{listener.getsockname()[1]}", accepted=accepted)
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()
