"""OAuth token storage and the refresh lock of a task, both in the database (box/tokens.py says why).

The lock is the task's row: `SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the portal's transactions are
IMMEDIATE, so the transaction itself holds the database's write lock. Either way two workers refreshing the
same task run one after the other, and the second finds the first one's token already stored.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from box_sdk_gen.schemas.access_token import AccessToken
from django.db import transaction

from boxvault.backups import vault
from boxvault.backups.models import Task
from boxvault.box.tokens import ReloadableTokenStorage


class TaskRefreshLock:
    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        self._thread = threading.Lock()  # one refresh at a time within this process too

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread, transaction.atomic():
            Task.objects.select_for_update().filter(pk=self.task_id).values_list("pk", flat=True).first()
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
