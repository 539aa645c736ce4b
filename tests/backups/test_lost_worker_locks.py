"""A worker killed with -9 leaves its restic lock behind; once its job's lease expires the reconciler removes
it, so stock `restic check` runs without `restic unlock`. A live process's lock is never taken away."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from support import require_binary

HOLD = textwrap.dedent(
    """
    import sys, time
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend
    repo = Repository.open(open_backend(sys.argv[1]), sys.argv[2])
    repo.lock().acquire()
    print("locked", flush=True)
    time.sleep(600)
    """
)


def _restic_check(task: Any) -> subprocess.CompletedProcess[str]:
    from boxvault.backups import repository

    return subprocess.run(
        ["restic", "-r", task.repository, "--no-cache", "check"],
        env={**os.environ, "RESTIC_PASSWORD": repository.password(task)}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def _lose_worker(task: Any, worker_id: str) -> dict[str, int]:
    """A job of the task claimed by `worker_id`, whose lease then expires; the reconciler's counts."""
    from boxvault.core import clock
    from boxvault.jobs import services as jobs

    job = jobs.enqueue(account=task.account, kind="backup", task=task)
    moment = clock.now()
    with clock.frozen_at(moment):
        assert jobs.claim(job.pk, worker_id) is not None
    with clock.frozen_at(moment + timedelta(hours=1)):
        return jobs.reconcile()


@pytest.mark.django_db(transaction=True)
def test_the_reconciler_removes_the_lock_of_a_killed_worker(make_task: Any) -> None:
    require_binary("restic")
    from boxvault.backups import repository

    task = make_task(users=1)
    repository.open_repository(task).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, task.repository, repository.password(task)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert os.listdir(os.path.join(task.repository, "locks")), "the killed process left no lock to remove"
    refused = _restic_check(task)
    assert refused.returncode != 0 and "lock" in refused.stderr.lower()  # stock restic refuses: the hole

    counts = _lose_worker(task, f"{socket.gethostname()}:{proc.pid}:1")
    assert counts["requeued"] == 1
    assert os.listdir(os.path.join(task.repository, "locks")) == []
    checked = _restic_check(task)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.django_db(transaction=True)
def test_a_live_process_keeps_its_lock_even_when_its_lease_expired(make_task: Any) -> None:
    from boxvault.backups import repository

    task = make_task(users=1)
    with repository.open_repository(task) as repo, repo.lock():
        # this process is alive: an expired lease (a stalled heartbeat) is no proof that it is gone
        _lose_worker(task, f"{socket.gethostname()}:{os.getpid()}:1")
        assert len(os.listdir(os.path.join(task.repository, "locks"))) == 1
    assert os.listdir(os.path.join(task.repository, "locks")) == []


def test_a_remote_workers_lock_goes_only_once_its_refresher_stopped(tmp_path: Any) -> None:
    """Another host's PID cannot be probed: its lock goes when not refreshed for two refresh periods."""
    from boxvault.engine import gojson
    from boxvault.engine.lock import REFRESH_SECONDS, remove_dead_locks
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend

    repo = Repository.init(open_backend(str(tmp_path / "repo")), "pw")

    def lock(host: str, pid: int, age: float) -> str:
        when = datetime.fromtimestamp(time.time() - age).astimezone()
        doc = {"time": gojson.format_datetime(when), "exclusive": False, "hostname": host, "pid": pid}
        return str(repo.save_json("locks", doc))

    fresh = lock("worker-b", 41, age=REFRESH_SECONDS)
    old = lock("worker-b", 41, age=2 * REFRESH_SECONDS + 5)
    other = lock("worker-c", 41, age=2 * REFRESH_SECONDS + 5)  # another worker, not lost: kept
    assert remove_dead_locks(repo, "worker-b", 41) == [old]
    assert sorted(repo.list_ids("locks")) == sorted([fresh, other])
