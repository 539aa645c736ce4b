"""Each task's restic repository: where it lives and how it is opened (created on the first backup)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from boxvault.backups import vault
from boxvault.backups.models import Task

if TYPE_CHECKING:
    from boxvault.engine.storage.objectlock import LockPolicy


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


def open_repository(task: Task, backend: Any = None) -> Any:
    """Open the task's repository, creating it (with its escrow key, see crypto.escrow_password) if new."""
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    backend = backend if backend is not None else open_backend(task.repository)
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


# --- the repositories a worker process holds between jobs (issue 10) ---------------------------------------
#
# Opening a repository costs a scrypt key derivation and reading every index file; a worker serving the users
# of one task one after another would pay that per user. It keeps the last few opened repositories instead,
# refreshes a held one incrementally (only index files it has not read) and reads index and snapshot files
# through an on-disk cache shared by the workers of the machine (engine/storage/cached.py).

HELD_MAX = 4


@dataclass
class Held:
    """An opened repository, its storage request counter (below the disk cache) and what it was opened for."""

    key: tuple[int, str]
    repo: Any
    counter: Any
    baseline: int = 0  # the counter when the previous job gave it back: a job's cost includes its refresh

    def requests(self) -> int:
        """Storage requests since the previous job gave this repository back (or since it was opened)."""
        return int(self.counter.total()) - self.baseline


_held: OrderedDict[tuple[int, str], Held] = OrderedDict()
_held_lock = threading.Lock()


def cache_dir(task: Task) -> Path:
    """Index and snapshot files of the task's repository, cached on local disk (rebuilt if lost)."""
    name = hashlib.sha256(task.repository.encode()).hexdigest()[:32]
    return Path(settings.DATA_DIR) / "repo-cache" / name


def take(task: Task) -> Held:
    """The task's repository for one job: the one this process holds, refreshed, or a newly opened one.

    The entry leaves the pool while a job uses it, so two threads never share one (a writer adds to it)."""
    from boxvault.engine.storage import open_backend
    from boxvault.engine.storage.cached import CachedBackend, CountingBackend

    key = (task.pk, task.repository)
    with _held_lock:
        held = _held.pop(key, None)
    if held is not None:
        try:
            held.repo.refresh_index()
            return held
        except Exception:  # noqa: BLE001 - storage trouble: open it again below (and report that failure)
            held.repo.close()
    counter = CountingBackend(open_backend(task.repository))
    repo = open_repository(task, CachedBackend(counter, cache_dir(task)))
    return Held(key, repo, counter)


def give_back(held: Held) -> None:
    """Keep the repository for the next job of the task (after a job that ended cleanly only)."""
    held.baseline = held.counter.total()
    with _held_lock:
        _held[held.key] = held
        _held.move_to_end(held.key)
        evicted = [_held.popitem(last=False)[1] for _ in range(max(0, len(_held) - HELD_MAX))]
    for old in evicted:
        old.repo.close()


def discard(held: Held) -> None:
    """A job that failed may leave blobs in the held index that no index file lists: never reuse it."""
    held.repo.close()


def drop_held() -> None:
    """Forget every held repository (tests; a worker that wants its memory back)."""
    with _held_lock:
        entries = list(_held.values())
        _held.clear()
    for held in entries:
        held.repo.close()


def object_lock(task: Task) -> LockPolicy | None:
    """The S3 object lock the operator requires for this task's location (`LockPolicy`: mode and days), or
    None: not an S3 location, no object lock, or a setting the storage layer refuses (docs/storage.md)."""
    import os

    from boxvault.engine.storage import StorageError, parse_location
    from boxvault.engine.storage.objectlock import lock_policy

    try:
        if parse_location(task.repository).kind != "s3":
            return None
        return lock_policy(os.environ, "s3")
    except StorageError:
        return None
