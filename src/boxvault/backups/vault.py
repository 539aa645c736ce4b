"""A task's secrets in and out of their sealed columns (crypto.py explains the envelope)."""

from __future__ import annotations

import json
import threading
from typing import Any

from django.conf import settings

from boxvault.backups import crypto
from boxvault.backups.models import Task

SecretError = crypto.SecretError
_FIELDS = {
    "credentials": "sealed_credentials",
    "tokens": "sealed_tokens",
    "repo_password": "sealed_repo_password",
}
_lock = threading.Lock()
_kek: tuple[str | None, bytes] | None = None


def kek() -> bytes:
    """The server's KEK (read once per process and per configured value)."""
    global _kek
    configured = settings.BOXVAULT_KEK
    with _lock:
        if _kek is None or _kek[0] != configured:
            _kek = (configured, crypto.load_kek(configured, settings.DATA_DIR))
        return _kek[1]


def new_task_key(task: Task) -> None:
    task.sealed_key, task.kek_fingerprint = crypto.new_data_key(kek(), str(task.uuid))


def _dek(task: Task) -> bytes:
    return crypto.open_data_key(kek(), task.sealed_key, str(task.uuid), task.kek_fingerprint)


def put(task: Task, field: str, value: str) -> None:
    """Seal `value` into the task's column for `field` (the caller saves the task)."""
    setattr(task, _FIELDS[field], crypto.seal(_dek(task), value, owner=str(task.uuid), field=field))


def get(task: Task, field: str) -> str | None:
    sealed = getattr(task, _FIELDS[field])
    if not sealed:
        return None
    return crypto.unseal(_dek(task), sealed, owner=str(task.uuid), field=field)


def put_json(task: Task, field: str, value: Any) -> None:
    put(task, field, json.dumps(value))


def get_json(task: Task, field: str) -> Any:
    raw = get(task, field)
    return None if raw is None else json.loads(raw)


def escrow_password(task_uuid: str) -> str:
    return crypto.escrow_password(kek(), task_uuid)
