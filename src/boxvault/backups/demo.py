"""`boxvault serve --demo`: a Box sandbox beside the portal, seeded once, with the portal's Box app on it.

The sandbox runs as a subprocess (`boxvault sandbox serve`) on a port kept in the data directory, so tasks
connected in an earlier demo session still reach it; it stops with the server (atexit, and the kernel's
parent-death signal if the server is killed).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

USERS = 4
# A few thousand files: a first backup finishes in a minute or two (tests seed fewer through the variable).
FILES_PER_USER = int(os.environ.get("BOXVAULT_DEMO_FILES_PER_USER", "500"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port(directory: Path) -> int:
    path = directory / "port"
    if path.exists():
        port = int(path.read_text().strip())
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass  # taken by something else now: tasks made earlier must be re-authorized
    port = _free_port()
    path.write_text(f"{port}\n")
    return port


def _seed(directory: Path) -> dict[str, Any]:
    info_path = directory / "seed.json"
    if info_path.exists():
        return dict(json.loads(info_path.read_text(encoding="utf-8")))
    directory.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-m", "boxvault", "sandbox", "seed", "--data", str(directory), "--users", str(USERS),
         "--files-per-user", str(FILES_PER_USER), "--large-files", "0", "--json"],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    fd = os.open(info_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds the app's client secret
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(out.stdout)
    return dict(json.loads(out.stdout))


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _control(url: str, method: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - our own sandbox on loopback
        f"{url}/_sandbox/{path}", data=json.dumps(body).encode(), method=method,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - our own sandbox on loopback  # nosec B310
        pass


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Box sandbox exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_sandbox/health", timeout=2) as response:  # noqa: S310  # nosec B310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError("the Box sandbox did not start within a minute")


def start(data_dir: Path) -> subprocess.Popen[bytes]:
    directory = data_dir / "sandbox"
    info = _seed(directory)
    port = _port(directory)
    url = f"http://127.0.0.1:{port}"
    log = (directory / "sandbox.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "boxvault", "sandbox", "serve", "--data", str(directory), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent, start_new_session=True,  # Ctrl-C reaches the server, which stops us
    )  # fmt: skip

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()

    atexit.register(stop)
    _wait(url, proc)
    # The newcomer sees the consent page: no auto-approval, any redirect back to this portal accepted.
    _control(url, "PUT", "oauth", {"auto_approve_user_id": None, "redirect_uris": []})
    os.environ["BOXVAULT_BOX_CLIENT_ID"] = str(info["client_id"])
    os.environ["BOXVAULT_BOX_CLIENT_SECRET"] = str(info["client_secret"])
    os.environ["BOXVAULT_BOX_API_URL"] = url
    # the operator's allow-list of Box API URLs (docs/operations.md, Egress): tasks may use this sandbox
    allowed = [u for u in os.environ.get("BOXVAULT_BOX_API_URLS", "").split(",") if u.strip()]
    os.environ["BOXVAULT_BOX_API_URLS"] = ",".join([*allowed, url])
    os.environ.setdefault("BOXVAULT_BOX_RATE_PER_USER", "0")  # a local sandbox, not Box's API quotas
    print(
        f"Demo Box enterprise: sandbox on {url} ({USERS} users, {USERS * FILES_PER_USER} files, "
        f"data in {directory}). Sign up, then + Add Backup Task.",
        flush=True,
    )
    return proc
