"""Jobs across real processes: claim races on a SQLite file (WAL, busy timeout), the `boxvault jobs` CLI,
and the scale-out acceptance test: two `boxvault worker` processes on Redis and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from support import REPO_ROOT, boxvault_cmd, cli_env, missing, run_cli, wait_for

TESTS = str(REPO_ROOT / "tests")
PASSWORD = "Operator-Chosen-Pass-1"


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {
        "BOXVAULT_DATA": str(data),
        "DATABASE_URL": "",
        "BOXVAULT_REDIS_URL": "",
        "BOXVAULT_JOB_HANDLER_MODULES": "jobs.handlers",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), TESTS]),
    }
    env.update(extra)
    return env


def _create_account(env: dict[str, str], tmp: Path) -> int:
    password = tmp / "pw"
    password.write_text(PASSWORD)
    out = run_cli(
        ["account", "create", "--email", "ops@corp.example", "--password-file", str(password), "--json"],
        env=env,
    ).stdout
    return int(json.loads(out.strip().splitlines()[-1])["account"])


def _shell(env: dict[str, str], code: str) -> str:
    """Run Python inside a configured portal process; answers the line it prints after 'OUT '."""
    out = run_cli(["manage", "shell", "-c", code], env=env).stdout
    return next(line[4:] for line in out.splitlines() if line.startswith("OUT "))


def _enqueue(env: dict[str, str], account: int, jobs: list[dict[str, Any]]) -> list[int]:
    code = (
        "import json\n"
        "from boxvault.accounts.models import Account\n"
        "from boxvault.jobs import services\n"
        f"a = Account.objects.get(pk={account})\n"
        f"ids = [services.enqueue(account=a, kind='test_sleep', params=p).pk for p in {jobs!r}]\n"
        "print('OUT ' + json.dumps(ids))\n"
    )
    return list(json.loads(_shell(env, code)))


@pytest.fixture(scope="module")
def sqlite_portal(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], int]:
    tmp = tmp_path_factory.mktemp("jobs-sqlite")
    env = _env(tmp / "data")
    return env, _create_account(env, tmp)


def test_claim_race_between_processes_on_sqlite(sqlite_portal: tuple[dict[str, str], int]) -> None:
    """Four processes claim the same 20 jobs at the same moment: every job is won exactly once."""
    env, account = sqlite_portal
    ids = _enqueue(env, account, [{"steps": 1}] * 20)
    start = time.time() + 4  # all four are up by then
    code = (
        "import json, os, time\n"
        "from boxvault.jobs import services\n"
        f"time.sleep(max(0, {start} - time.time()))\n"
        f"won = [i for i in {ids!r} if services.claim(i, 'p%d' % os.getpid())]\n"
        "print('OUT ' + json.dumps(won))\n"
    )
    procs = [
        subprocess.Popen(
            boxvault_cmd("manage", "shell", "-c", code),
            env=cli_env(env),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    won: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        won += json.loads(next(line[4:] for line in out.splitlines() if line.startswith("OUT ")))
    assert sorted(won) == sorted(ids)


def test_jobs_cli_dispatch(sqlite_portal: tuple[dict[str, str], int]) -> None:
    """`boxvault jobs` reaches this area's typer app (the commands themselves: test_jobs_cli.py)."""
    env, account = sqlite_portal
    (job_id,) = _enqueue(env, account, [{"steps": 1}])
    listed = json.loads(run_cli(["jobs", "list", "--json", "--account", str(account)], env=env).stdout)
    assert job_id in {j["id"] for j in listed} and all(j["account"] == account for j in listed)


# --- scale-out: Redis + PostgreSQL


def _redis(url: str) -> Any:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2)
        client.ping()
        return client
    except Exception:  # noqa: BLE001 - any failure means "no Redis here"
        missing("Redis")


def _postgres(url: str) -> Any:
    try:
        import psycopg

        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except Exception:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        missing("PostgreSQL")


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
def test_scale_out_two_workers_and_a_kill(tmp_path: Path) -> None:
    redis_url = os.environ.get("BOXVAULT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    pg_url = os.environ.get("BOXVAULT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    redis_client = _redis(redis_url)
    admin = _postgres(pg_url)
    suffix = uuid.uuid4().hex[:10]
    database = f"bv_scale_{suffix}"
    admin.execute(f'CREATE DATABASE "{database}"')
    workers: list[subprocess.Popen[str]] = []
    try:
        env = _env(
            tmp_path / "data",
            DATABASE_URL=pg_url.rsplit("/", 1)[0] + "/" + database,
            BOXVAULT_REDIS_URL=redis_url,
            BOXVAULT_QUEUE_NAME=f"scale-{suffix}",
            BOXVAULT_JOB_LEASE_SECONDS="3",
            BOXVAULT_JOB_RECONCILE_SECONDS="1",
        )
        account = _create_account(env, tmp_path)
        for n in range(2):
            log = (tmp_path / f"worker{n}.log").open("w")
            workers.append(
                subprocess.Popen(
                    boxvault_cmd("worker", "--workers", "2"),
                    env=cli_env(env),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        record = tmp_path / "record.txt"
        long_job = {"steps": 80, "step_seconds": 0.1, "record": str(record)}
        short = {"steps": 3, "step_seconds": 0.05, "record": str(record)}
        ids = _enqueue(env, account, [long_job] + [short] * 12)
        db = _postgres(env["DATABASE_URL"])

        def row(job_id: int) -> tuple[Any, ...]:
            found = db.execute(
                "SELECT status, worker_id, items_done, attempts FROM jobs_job WHERE id = %s", (job_id,)
            ).fetchone()
            assert found is not None
            return tuple(found)

        wait_for(
            lambda: row(ids[0])[0] == "in_progress" and row(ids[0])[2] >= 10,
            timeout=60,
            what="the long job to be half-way",
        )
        victim_pid = int(row(ids[0])[1].split(":")[1])
        assert victim_pid in {w.pid for w in workers}
        os.kill(victim_pid, signal.SIGKILL)
        survivor = next(w for w in workers if w.pid != victim_pid)

        def all_finished() -> bool:
            done = db.execute(
                "SELECT count(*) FROM jobs_job WHERE status IN ('succeeded', 'failed', 'canceled',"
                " 'partially_succeeded')"
            ).fetchone()
            return bool(done and done[0] == len(ids))

        wait_for(all_finished, timeout=90, what="every job to finish")
        statuses = dict(db.execute("SELECT id, status FROM jobs_job").fetchall())
        assert statuses == {i: "succeeded" for i in ids}
        lines = [line.split() for line in record.read_text().splitlines()]
        for job_id in ids:
            assert sum(1 for e, j, _ in lines if e == "done" and int(j) == job_id) == 1, job_id
        long_starts = [int(pid) for e, j, pid in lines if e == "start" and int(j) == ids[0]]
        long_done = [int(pid) for e, j, pid in lines if e == "done" and int(j) == ids[0]]
        assert long_starts == [victim_pid, survivor.pid] and long_done == [survivor.pid]
        assert row(ids[0])[3] == 2 and row(ids[0])[1].split(":")[1] == str(survivor.pid)
        handed = db.execute(
            "SELECT count(*) FROM jobs_joblogline WHERE job_id = %s AND message LIKE %s",
            (ids[0], "lease of %expired; re-queued%"),
        ).fetchone()
        assert handed is not None and handed[0] == 1
        assert survivor.poll() is None
        db.close()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        for key in redis_client.scan_iter(f"*scale-{suffix}*"):
            redis_client.delete(key)
