"""Real object-store emulators for tests: moto server (S3), Azurite (Azure Blob), gcp-storage-emulator (GCS).

Each context manager starts the emulator on a free port, creates a bucket/container, and yields an
``Emulator``::

    with moto_s3() as s3:
        backend = open_backend(s3.location("repo"), s3.env)
        s3.bucket, s3.endpoint, s3.create_bucket("other"), s3.stop(), s3.start()

``Emulator.access`` (a ``StoreAccess``) is the plain description: kind, endpoint, bucket, the restic-style
``location(prefix)`` and the ``env`` with credentials. ``FaultProxy`` sits between a client and an emulator
and makes it fail on demand (HTTP 503, dropped connections) to test retries.

A missing emulator calls ``support.missing``: skipped on a newcomer's machine, a failure in CI.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import dataclasses
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Literal

from support import REPO_ROOT, free_port, missing, wait_for

Kind = Literal["s3", "azure", "gs"]

# Azurite's well-known development account (public, documented by Microsoft; not a secret)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
MOTO_KEY_ID = "testing-key-id"
MOTO_SECRET = "testing-secret"
START_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class StoreAccess:
    """How a client reaches one bucket of an object store: location string and environment."""

    kind: Kind
    endpoint: str  # "http://127.0.0.1:PORT", for Azure with "/devstoreaccount1" appended
    bucket: str

    def location(self, prefix: str = "") -> str:
        prefix = prefix.strip("/")
        if self.kind == "s3":
            return f"s3:{self.endpoint}/{self.bucket}" + (f"/{prefix}" if prefix else "")
        return f"{self.kind}:{self.bucket}:/{prefix}"

    @property
    def env(self) -> dict[str, str]:
        if self.kind == "s3":
            return {
                "AWS_ACCESS_KEY_ID": MOTO_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": MOTO_SECRET,
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        if self.kind == "azure":
            return {
                "AZURE_ACCOUNT_NAME": AZURITE_ACCOUNT,
                "AZURE_ACCOUNT_KEY": AZURITE_KEY,
                "BOXVAULT_AZURE_ENDPOINT": self.endpoint,
            }
        return {"STORAGE_EMULATOR_HOST": self.endpoint, "GOOGLE_PROJECT_ID": "test-project"}

    @property
    def port(self) -> int:
        return int(self.endpoint.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])

    def with_port(self, port: int) -> StoreAccess:
        """The same store reached through another port (a FaultProxy)."""
        path = self.endpoint.split("://", 1)[1].partition("/")[2]
        return dataclasses.replace(self, endpoint=f"http://127.0.0.1:{port}" + (f"/{path}" if path else ""))

    def with_bucket(self, bucket: str) -> StoreAccess:
        return dataclasses.replace(self, bucket=bucket)


class Emulator:
    """A running emulator; stop() then start() restarts it on the same port (data survives except moto's)."""

    def __init__(self, kind: Kind, command: list[str], port: int, bucket: str, workdir: Path) -> None:
        self.kind: Kind = kind
        self._command = command
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None
        self._buckets: list[str] = []
        endpoint = f"http://127.0.0.1:{port}" + (f"/{AZURITE_ACCOUNT}" if kind == "azure" else "")
        self.access = StoreAccess(kind, endpoint, bucket)

    # the small API tests use most
    @property
    def bucket(self) -> str:
        return self.access.bucket

    @property
    def endpoint(self) -> str:
        return self.access.endpoint

    @property
    def port(self) -> int:
        return self.access.port

    @property
    def env(self) -> dict[str, str]:
        return self.access.env

    def location(self, prefix: str = "") -> str:
        return self.access.location(prefix)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        log = open(self._workdir / f"{self.kind}.log", "ab")  # noqa: SIM115 - owned by the child
        self._process = subprocess.Popen(
            self._command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._workdir,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()
        try:
            wait_for(self._ready, timeout=START_TIMEOUT, what=f"{self.kind} emulator on port {self.port}")
        except TimeoutError:
            self.stop()
            raise AssertionError(f"{self.kind} emulator did not start:\n{self.log()[-3000:]}") from None
        if self.kind == "s3":  # moto keeps everything in memory: bring the buckets back after a restart
            for bucket in self._buckets:
                _request("PUT", f"{self.endpoint}/{bucket}")

    def _ready(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            raise AssertionError(f"{self.kind} emulator exited:\n{self.log()[-3000:]}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass
        if self.kind == "gs":  # it accepts connections before its routes answer
            urllib.request.urlopen(f"{self.endpoint}/storage/v1/b", timeout=2).close()
        return True

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # each emulator runs in its own session: end its process group (node/werkzeug may fork children)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        wait_for(lambda: not _port_open(self.port), timeout=10, what=f"port {self.port} to close")

    def log(self) -> str:
        path = self._workdir / f"{self.kind}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def create_bucket(self, name: str, *, object_lock: bool = False) -> StoreAccess:
        """Create another bucket/container and return the access to it (S3: optionally with object lock)."""
        self._buckets.append(name)
        if self.kind == "s3":
            lock = {"x-amz-bucket-object-lock-enabled": "True"} if object_lock else {}
            _request("PUT", f"{self.endpoint}/{name}", **lock)
        elif self.kind == "azure":
            _azure_create_container(self.endpoint, name)
        else:
            body = json.dumps({"name": name}).encode()
            _request("POST", f"{self.endpoint}/storage/v1/b?project=test-project", body, "application/json")
        return self.access.with_bucket(name)


def _die_with_parent() -> None:
    """Runs in the child: an emulator must not outlive a test run that was killed (timeout, kill -9).

    Linux delivers the signal when the *thread* that started the child ends: call start() from a thread that
    lives as long as the emulator should (the main thread, for session fixtures).
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _request(method: str, url: str, body: bytes = b"", content_type: str = "", **headers: str) -> None:
    # no body at all rather than b"": urllib would add a form Content-Type that the Azure signature lacks
    req = urllib.request.Request(url, data=body or None, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    for key, value in headers.items():
        req.add_header(key, value)
    urllib.request.urlopen(req, timeout=10).close()


def _azure_create_container(endpoint: str, container: str) -> None:
    # Azurite checks SharedKey signatures; sign the one request we need by hand (no Azure SDK dependency)
    date = formatdate(usegmt=True)
    version = "2021-08-06"
    resource = f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container"
    to_sign = "PUT\n" + "\n" * 11 + f"x-ms-date:{date}\nx-ms-version:{version}\n" + resource
    digest = hmac.new(base64.b64decode(AZURITE_KEY), to_sign.encode(), hashlib.sha256).digest()
    _request(
        "PUT",
        f"{endpoint}/{container}?restype=container",
        **{
            "x-ms-date": date,
            "x-ms-version": version,
            "Authorization": f"SharedKey {AZURITE_ACCOUNT}:{base64.b64encode(digest).decode()}",
        },
    )


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _running(kind: Kind, command: list[str], port: int, bucket: str, workdir: Path) -> Iterator[Emulator]:
    emulator = Emulator(kind, command, port, bucket, workdir)
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()


@contextlib.contextmanager
def moto_s3(bucket: str = "boxvault-test") -> Iterator[Emulator]:
    """moto server (in memory: a restart loses the data)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        missing("moto server (pip install 'moto[server]')")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="moto-") as workdir:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        with _running("s3", command, port, bucket, Path(workdir)) as emulator:
            emulator.create_bucket(bucket)
            yield emulator


def azurite_binary() -> str | None:
    found = shutil.which("azurite-blob")
    local = REPO_ROOT / ".ci" / "node" / "node_modules" / ".bin" / "azurite-blob"
    return found or (str(local) if local.exists() else None)


@contextlib.contextmanager
def azurite_blob(container: str = "boxvault-test") -> Iterator[Emulator]:
    """Azurite's blob service, persisting to a temporary directory (survives stop()/start())."""
    binary = azurite_binary()
    if binary is None:
        missing("Azurite (npm install --prefix .ci/node azurite@3)")
    assert binary is not None
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        command = [
            binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", workdir,
            "--silent", "--skipApiVersionCheck", "--loose", "--disableProductStyleUrl",
        ]  # fmt: skip
        with _running("azure", command, port, container, Path(workdir)) as emulator:
            emulator.create_bucket(container)
            yield emulator


@contextlib.contextmanager
def gcs_emulator(bucket: str = "boxvault-test") -> Iterator[Emulator]:
    """gcp-storage-emulator, persisting to a temporary directory (survives stop()/start())."""
    binary = shutil.which("gcp-storage-emulator") or str(
        Path(sys.executable).with_name("gcp-storage-emulator")
    )
    if not Path(binary).exists():
        missing("gcp-storage-emulator (pip install gcp-storage-emulator)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gcs-") as workdir:
        command = [
            binary, "--data-dir", workdir, "start", "--host", "127.0.0.1", "--port", str(port),
            "--default-bucket", bucket, "--quiet",
        ]  # fmt: skip
        with _running("gs", command, port, bucket, Path(workdir)) as emulator:
            yield emulator


EMULATORS = {"s3": moto_s3, "azure": azurite_blob, "gs": gcs_emulator}


class FaultProxy:
    """A TCP proxy in front of an emulator that can answer HTTP 503 or drop connections on demand.

    ``fail(n)`` closes every open connection (clients must reconnect) and answers the next ``n`` new
    connections with ``503 Service Unavailable``; ``failures`` counts the faults actually served.

    It runs in its own process: OpenDAL's blocking lister keeps the GIL while it waits for the network, so a
    proxy thread in the test process would deadlock with it.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "tests"), str(REPO_ROOT / "src")]),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "support.emulators", "fault-proxy", str(target_port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env,
        )  # fmt: skip
        self.port = int(self._ask(None))

    def _ask(self, command: str | None) -> str:
        assert self._process.stdin is not None and self._process.stdout is not None
        if command is not None:
            self._process.stdin.write(command + "\n")
            self._process.stdin.flush()
        answer = self._process.stdout.readline().strip()
        if not answer:
            raise AssertionError(f"fault proxy exited with {self._process.poll()}")
        return answer

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail(self, count: int) -> None:
        self._ask(f"fail {count}")

    def hang(self, count: int) -> None:
        """The next ``count`` new connections are accepted and then never answered (a stalled server)."""
        self._ask(f"hang {count}")

    @property
    def failures(self) -> int:
        return int(self._ask("count"))

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


class ProxyServer:
    """The proxy itself: run by ``FaultProxy`` in a child process, or in-process to prove a client call
    releases the GIL while it waits (a call that keeps it deadlocks with the proxy's threads)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.failures = 0
        self._pending = 0
        self._hanging = 0
        self._stalled: list[socket.socket] = []
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def fail(self, count: int, *, hang: bool = False) -> None:
        with self._lock:
            if hang:
                self._hanging = count
            else:
                self._pending = count
            conns, self._conns = self._conns, set()
        for conn in conns:
            _close(conn)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            stall = self._hanging > 0
            faulty = not stall and self._pending > 0
            if stall:
                self._hanging -= 1
                self.failures += 1
                self._stalled.append(client)  # keep it open, unanswered
                return
            if faulty:
                self._pending -= 1
                self.failures += 1
        if faulty:
            with contextlib.suppress(OSError):
                client.settimeout(5)
                client.recv(65536)  # the request head, so the client sees a response, not a reset
                client.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            _close(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._conns.update((client, upstream))
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _serve_proxy(target_port: int) -> None:
    server = ProxyServer(target_port)
    print(server.port, flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command in ("fail", "hang"):
            server.fail(int(argument), hang=command == "hang")
            print("ok", flush=True)
        elif command == "count":
            print(server.failures, flush=True)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(1 << 16):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


if __name__ == "__main__" and sys.argv[1:2] == ["fault-proxy"]:
    _serve_proxy(int(sys.argv[2]))
