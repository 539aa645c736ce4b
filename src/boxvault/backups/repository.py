"""Each task's restic repository: where it lives and how it is opened (created on the first backup)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from boxvault.backups import vault
from boxvault.backups.models import Task


class LocationError(ValueError):
    pass


def location_for(location: str, account_id: int, task_uuid: str) -> str:
    """`<the data center's url>/<account id>/<task uuid>`, in restic's spelling for every backend."""
    try:
        base = settings.BOXVAULT_LOCATIONS[location]["url"]
    except KeyError as exc:
        raise LocationError(f"unknown data-center location {location!r}") from exc
    return f"{base.rstrip('/')}/{account_id}/{task_uuid}"


def password(task: Task) -> str:
    value = vault.get(task, "repo_password")
    if value is None:
        raise vault.SecretError(f"task {task.pk} has no repository password")
    return value


def open_repository(task: Task) -> Any:
    """Open the task's repository, creating it (with its escrow key, see crypto.escrow_password) if new."""
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    backend = open_backend(task.repository)
    secret = password(task)
    if not backend.exists("config"):
        _create(task, backend, secret)
    repo = Repository.open(backend, secret)
    if task.repository_id != repo.id:
        Task.objects.filter(pk=task.pk).update(repository_id=repo.id)
        task.repository_id = repo.id
    return repo


def _create(task: Task, backend: Any, secret: str) -> None:
    # Two users' first runs start together: the task's lock makes one of them create the repository (and its
    # escrow key) and the other find it there. Not a row lock: the creation writes to storage, and no
    # network or disk I/O may run inside a database transaction (backups/tokens.py).
    from boxvault.backups.tokens import TaskRefreshLock
    from boxvault.engine.keymgmt import add_key
    from boxvault.engine.repository import Repository

    with TaskRefreshLock(task.pk, "repository").hold():
        if backend.exists("config"):
            return
        repo = Repository.init(backend, secret)
        add_key(repo, vault.escrow_password(str(task.uuid)))
