"""OAuth token storage and the refresh lock of a task, both in the database (box/tokens.py says why).

The lock is held *outside* any database transaction, because the refresh it guards is a call to Box: a slow or
silent Box must not hold a row lock (on SQLite, whose transactions are IMMEDIATE, the write lock of the whole
database: every other tenant would wait). On PostgreSQL it is a session-level advisory lock keyed on the task
(workers on many machines); on SQLite, a single-machine database, an `flock` on a file in the data directory.
Either way two workers refreshing the same task run one after the other, and the second finds the first
one's token already stored.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from box_sdk_gen.schemas.access_token import AccessToken
from django.conf import settings
from django.db import connection

from boxvault.backups import vault
from boxvault.backups.models import Task
from boxvault.box.tokens import FileRefreshLock, ReloadableTokenStorage

# advisory-lock namespaces (PostgreSQL's two-key form: namespace, task id)
_ADVISORY = {"refresh": 0x42584C4B, "repository": 0x42585250}  # "BXLK", "BXRP"


class TaskRefreshLock:
    """A lock per task (and purpose) held outside any transaction; also serialises a task's repository
    creation (`purpose="repository"`), which writes to storage."""

    def __init__(self, task_id: int, purpose: str = "refresh") -> None:
        self.task_id = task_id
        self.purpose = purpose
        self._thread = threading.Lock()  # one refresh at a time within this process too

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread:
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_ADVISORY[self.purpose], self.task_id])
                try:
                    yield
                finally:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY[self.purpose], self.task_id]
                        )
            else:
                path = Path(settings.DATA_DIR) / "locks" / f"task-{self.task_id}.{self.purpose}.lock"
                with FileRefreshLock(path).hold():
                    yield


class TaskTokenStorage(ReloadableTokenStorage):
    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        self._cached: AccessToken | None = None
        self._lock = threading.Lock()

    def store(self, token: AccessToken) -> None:
        task = Task.objects.get(pk=self.task_id)
        vault.put_json(task, "tokens", token.to_dict())
        # Saved (and, outside the refresh lock's transaction, committed) before the SDK hands the token out.
        Task.objects.filter(pk=self.task_id).update(
            sealed_tokens=task.sealed_tokens, status=Task.Status.CONNECTED, status_detail=""
        )
        with self._lock:
            self._cached = token

    def reload(self) -> AccessToken | None:
        task = Task.objects.get(pk=self.task_id)
        raw = vault.get_json(task, "tokens")
        token = None if raw is None else AccessToken.from_dict(raw)
        with self._lock:
            self._cached = token
        return token

    def get(self) -> AccessToken | None:
        with self._lock:
            cached = self._cached
        return cached if cached is not None else self.reload()

    def clear(self) -> None:
        Task.objects.filter(pk=self.task_id).update(sealed_tokens="")
        with self._lock:
            self._cached = None
