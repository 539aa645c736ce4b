"""Repository locks left by workers that died (kill -9, OOM, a lost host), removed by the reconciler."""

from __future__ import annotations

from boxvault.backups.models import Task


def parse_worker(worker_id: str) -> tuple[str, int] | None:
    """`host:pid:thread` (jobs.services.worker_identity) → (host, pid); None for anything else."""
    host, _, rest = worker_id.partition(":")
    pid, _, _ = rest.partition(":")
    return (host, int(pid)) if host and pid.isdigit() else None


def remove_worker_locks(task: Task, worker_id: str) -> list[str]:
    """Remove the dead worker's locks (and any stale one) from the task's repository; never creates it."""
    from boxvault.backups.repository import password
    from boxvault.engine.lock import remove_dead_locks
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    owner = parse_worker(worker_id)
    if owner is None:
        return []
    backend = open_backend(task.repository)
    if not backend.exists("config") or next(iter(backend.list("locks")), None) is None:
        return []  # nothing to unlock: no key derivation for a repository without locks
    with Repository.open(backend, password(task)) as repo:
        return remove_dead_locks(repo, *owner)
