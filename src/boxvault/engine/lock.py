"""Repository locks as restic uses them (design.rst "Locks"; internal/restic/lock.go).

A lock is an unpacked file in ``locks/``. Shared locks coexist; an exclusive lock excludes every other lock.
A lock is stale when its time is older than 30 minutes, or when it was made on this host by a process that
no longer exists. Live locks are refreshed (a new file, then the old one deleted) every 5 minutes.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import gojson
from .errors import EngineError, RepositoryLocked
from .storage import StorageError

if TYPE_CHECKING:
    from .repository import Repository

STALE_AFTER_NS = 30 * 60 * 1_000_000_000
REFRESH_SECONDS = 5 * 60


def lock_document(exclusive: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "time": gojson.format_datetime(datetime.now().astimezone()),
        "exclusive": exclusive,
        "hostname": socket.gethostname(),
        "username": _username(),
        "pid": os.getpid(),
    }
    if hasattr(os, "getuid"):
        if os.getuid():
            doc["uid"] = os.getuid()
        if os.getgid():
            doc["gid"] = os.getgid()
    return doc


def _username() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def is_stale(doc: dict[str, Any], now_ns: int | None = None) -> bool:
    now_ns = time.time_ns() if now_ns is None else now_ns
    try:
        created, _ = gojson.parse_time(str(doc.get("time", "")))
    except ValueError:
        return True
    if now_ns - created > STALE_AFTER_NS:
        return True
    if doc.get("hostname") != socket.gethostname():
        return False  # another machine's process cannot be probed: trust its lock until it times out
    try:
        os.kill(int(doc.get("pid", 0)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, OverflowError):
        return False
    return False


def remove_dead_locks(repo: Repository, hostname: str, pid: int, now_ns: int | None = None) -> list[str]:
    """Remove the locks of a worker known to be gone (its job lease expired), plus any stale lock.

    The caller knows the worker stopped heartbeating, not that its process is dead, so a lock of that
    host and PID goes only when the process is provably gone (same host, PID absent: `is_stale`) or when
    its refresher has also stopped (not refreshed for two refresh periods). A live writer refreshes its
    lock every 5 minutes, so it never loses its lock this way; restic's own limit of 30 minutes is the
    last resort for everything else. Returns the removed lock ids.
    """
    now_ns = time.time_ns() if now_ns is None else now_ns

    def dead(doc: dict[str, Any]) -> bool:
        owner = doc.get("hostname") == hostname and str(doc.get("pid")) == str(pid)
        return is_stale(doc, now_ns) or (owner and _age_ns(doc, now_ns) > 2 * REFRESH_SECONDS * 10**9)

    return _remove_locks(repo, dead)


def remove_stale_locks(repo: Repository) -> list[str]:
    """Remove the stale locks (as `restic unlock` does): a run that starts after a crash on this host
    leaves a repository that stock restic can lock exclusively again. Returns the removed lock ids."""
    now_ns = time.time_ns()
    return _remove_locks(repo, lambda doc: is_stale(doc, now_ns))


def _remove_locks(repo: Repository, remove: Callable[[dict[str, Any]], bool]) -> list[str]:
    removed: list[str] = []
    for lock_id, doc in repo.iter_locks():
        if not remove(doc):
            continue
        try:
            repo.backend.delete(f"locks/{lock_id}")
        except StorageError:
            continue  # removed meanwhile, or refused: the next pass tries again (restic ignores stale ones)
        removed.append(lock_id)
    return removed


def _age_ns(doc: dict[str, Any], now_ns: int) -> int:
    try:
        created, _ = gojson.parse_time(str(doc.get("time", "")))
    except ValueError:
        return STALE_AFTER_NS + 1
    return now_ns - created


class Lock:
    def __init__(self, repo: Repository, exclusive: bool, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.repo = repo
        self.exclusive = exclusive
        self.refresh_seconds = refresh_seconds
        self.lock_id: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    def _conflicts(self) -> list[str]:
        found = []
        for lock_id, doc in self.repo.iter_locks():
            if lock_id == self.lock_id:
                continue
            if is_stale(doc):
                # what `restic unlock` does: restic 0.14 itself refuses to lock while a stale lock exists,
                # so a backup killed with -9 must not leave its lock behind for the next restic command
                self._remove_stale(lock_id)
                continue
            if self.exclusive or doc.get("exclusive"):
                kind = "exclusive" if doc.get("exclusive") else "shared"
                found.append(
                    f"{kind} lock {lock_id[:8]} by PID {doc.get('pid')} on {doc.get('hostname')} "
                    f"since {doc.get('time')}"
                )
        return found

    def _remove_stale(self, lock_id: str) -> None:
        try:
            self.repo.backend.delete(f"locks/{lock_id}")
        except StorageError:
            pass  # another process removed it, or the store refuses: it stays ignored either way

    def acquire(self) -> Lock:
        conflicts = self._conflicts()
        if conflicts:
            raise RepositoryLocked("; ".join(conflicts))
        self.lock_id = self.repo.save_json("locks", lock_document(self.exclusive))
        conflicts = self._conflicts()  # someone may have locked at the same moment
        if conflicts:
            self.repo.backend.delete(f"locks/{self.lock_id}")
            self.lock_id = None
            raise RepositoryLocked("; ".join(conflicts))
        self._thread = threading.Thread(target=self._refresh_loop, name="restic-lock-refresh", daemon=True)
        self._thread.start()
        return self

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.refresh()
            except (EngineError, OSError):
                continue  # the next attempt may succeed; a lock is stale only after 30 minutes

    def refresh(self) -> None:
        with self._mutex:
            if self.lock_id is None:
                return
            old = self.lock_id
            self.lock_id = self.repo.save_json("locks", lock_document(self.exclusive))
            self.repo.backend.delete(f"locks/{old}")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._mutex:
            if self.lock_id is not None:
                self.repo.backend.delete(f"locks/{self.lock_id}")
                self.lock_id = None

    def __enter__(self) -> Lock:
        return self.acquire() if self.lock_id is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()
