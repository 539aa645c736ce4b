"""A night of a Box enterprise through the portal's job path; a user's job at 100 vs 20,000 snapshots.

1. Seeds a sandbox enterprise (`--users` × `--files`), creates a CCG task through the backups service (which
   discovers the users), activates them all, then runs night 1 (everything new) and night 2 (after
   `/_sandbox/mutate` changed 1 % of the files) the way the portal does: the scheduler (`run_scheduler`:
   `discover_due` once, then `schedule.tick` claims every due user and enqueues one "backup" job each on
   the Redis queue), and `--workers` real `boxvault worker --workers THREADS` processes that take the jobs
   from Redis (`--queue fork` instead hands the ids to forked processes that call `jobs.services.run`).
   Reported per night: wall time, jobs/s, Box API requests per job (the sandbox's count of `/2.0/...`
   requests; the job results' own count agrees), repository storage requests per job (the job results,
   counted below the worker's disk cache), peak RSS per worker (VmHWM: the peak since the worker started).
2. A one-user task: no-change jobs with 100 snapshots in its repository, then with 20,000 (other users'
   snapshots written into the repository and recorded in the catalog, as a year of a 55-user task).
   Median wall time of `--repeat` jobs each, and their storage requests (must not grow).
3. The recovery snapshot list (API `GET /api/v1/tasks/{id}/users/{box_user_id}/snapshots/` and the
   Recovery page) with 20,000 snapshots in the task: p50/p95 over `--runs` requests.

Everything talks to loopback only: the sandbox on 127.0.0.1, PostgreSQL on 127.0.0.1:5432 (a schema of its
own in `--postgres-url`'s database, dropped at the end), Redis on 127.0.0.1:6379 (a queue name of its own),
local repositories under a temporary directory.

    python bench/nightly_scale.py [--users 300] [--files 20] [--workers 2] [--threads 2] [--queue redis|fork]
        [--snapshots 20000] [--skip-snapshots]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from support import boxvault_cmd, cli_env, free_port, run_cli, wait_for  # noqa: E402

KEK = "YmVuY2gta2VrLTAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm8="


class Sandbox:
    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            boxvault_cmd("sandbox", "serve", "--data", str(data), "--port", str(self.port)),
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self.call("GET", "/_sandbox/health")["status"] == "ok", 60, "sandbox")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=600) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def api_requests(self) -> int:
        stats = self.call("GET", "/_sandbox/stats")["requests"]
        return sum(sum(v.values()) for k, v in stats.items() if " /2.0/" in k)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def setup_django(tmp: Path, postgres_url: str, schema: str, redis_url: str | None) -> None:
    """Django on the bench's schema; the same environment serves the `boxvault worker` subprocesses."""
    os.environ["BOXVAULT_DATA"] = str(tmp / "data")
    os.environ["BOXVAULT_KEK"] = KEK
    # the workers find the schema through the URL (dj-database-url passes `options` to psycopg)
    os.environ["DATABASE_URL"] = f"{postgres_url}?options=-c%20search_path%3D{schema}"
    os.environ["BOXVAULT_LOCATIONS"] = json.dumps({"local": {"label": "Local", "url": str(tmp / "repos")}})
    if redis_url:
        os.environ["BOXVAULT_REDIS_URL"] = redis_url
        os.environ["BOXVAULT_QUEUE_NAME"] = schema
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boxvault.portal.settings")
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    import django
    from django.conf import settings

    (tmp / "data").mkdir(parents=True, exist_ok=True)
    django.setup()
    settings.BOXVAULT_LOCATIONS = {"local": {"label": "Local", "url": str(tmp / "repos")}}
    settings.DATA_DIR = tmp / "data"
    settings.BOXVAULT_KEK = KEK
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not redis_url:
        from boxvault.jobs import services as jobs

        jobs._send = lambda job_id: None  # the forked processes get the ids directly


class Workers:
    """`count` real `boxvault worker` processes on the Redis queue, started once for both nights."""

    def __init__(self, count: int, threads: int, logs: Path) -> None:
        self.procs = [
            subprocess.Popen(
                boxvault_cmd("worker", "--workers", str(threads)),
                env=cli_env(),
                stdout=(logs / f"worker{i}.log").open("w"),
                stderr=subprocess.STDOUT,
            )
            for i in range(count)
        ]

    def peak_rss_mib(self) -> list[float]:
        out = []
        for proc in self.procs:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
            out.append(round(kib / 1024, 1))
        return out

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def drop_schema(postgres_url: str, schema: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def make_task(sandbox: Sandbox, creds: dict[str, Any], name: str, activate: int | None = None) -> Any:
    from django.contrib.auth import get_user_model

    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import create_account_with_admin
    from boxvault.backups import services
    from boxvault.backups.models import TaskUser

    email = f"{name.lower()}@bench.example"
    user = get_user_model().objects.filter(email=email).first()
    if user is None:
        member = create_account_with_admin(
            email=email, password="bench-Password-1", name=name, first_name="B", last_name="Ench"
        )
        user = member.user
    access = for_user(user)
    task = services.create_ccg_task(
        access,
        name=name,
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        enterprise_id=creds["enterprise_id"],
        api_url=sandbox.url,
    )
    ids = list(TaskUser.objects.filter(task=task).order_by("id").values_list("box_user_id", flat=True))
    services.user_action(access, task, "activate", ids[:activate])
    return task, user


def _worker(job_ids: list[int], out: Any) -> None:
    from django.db import connections

    connections.close_all()  # never share the parent's connection
    from boxvault.jobs import services as jobs

    statuses: dict[str, int] = {}
    for job_id in job_ids:
        status = jobs.run(job_id) or "skipped"
        statuses[status] = statuses.get(status, 0) + 1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put({"statuses": statuses, "peak_rss_mib": round(rss, 1)})
    connections.close_all()


def _run_forked(job_ids: list[int], workers: int) -> list[float]:
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(job_ids[i::workers], out)) for i in range(workers)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return [r["peak_rss_mib"] for r in results]


def _wait_queue(job_ids: list[int], pool: Workers) -> list[float]:
    """Until every job of the night has finished (the workers take them from Redis)."""
    from boxvault.jobs.models import Job

    while Job.objects.filter(pk__in=job_ids).exclude(status__in=Job.FINISHED).exists():
        if not pool.alive():
            raise SystemExit("a worker process died; see its log")
        time.sleep(0.5)
    return pool.peak_rss_mib()


def night(sandbox: Sandbox, now: datetime, workers: int, pool: Workers | None) -> dict[str, Any]:
    """The scheduler's tick at `now`, then the night's jobs on the workers."""
    from boxvault.backups import schedule, services
    from boxvault.jobs.models import Job

    sandbox.call("DELETE", "/_sandbox/stats")
    first = Job.objects.order_by("-id").values_list("id", flat=True).first() or 0
    started = time.perf_counter()
    services.release_stuck(now)
    discovered = services.discover_due(now)
    # the portal's tick claims up to its limit a minute; the bench claims the whole night in one go
    claimed = schedule.tick(now, lambda u: services.enqueue_backup(u, None, previous=u.status), limit=10**6)
    tonight = Job.objects.filter(kind="backup", pk__gt=first).order_by("id")
    job_ids = list(tonight.values_list("id", flat=True))
    scheduled = time.perf_counter() - started
    rss = _wait_queue(job_ids, pool) if pool else _run_forked(job_ids, workers)
    wall = time.perf_counter() - started
    done = Job.objects.filter(pk__in=job_ids)
    rows = list(done.values_list("status", "result"))
    box = [int((r or {}).get("box_requests", 0)) for _, r in rows]
    storage = [int((r or {}).get("storage_requests", 0)) for _, r in rows]
    statuses: dict[str, int] = {}
    for s, _ in rows:
        statuses[s] = statuses.get(s, 0) + 1
    api = sandbox.api_requests()
    return {
        "users_claimed": len(claimed),
        "tasks_discovered": discovered,
        "jobs": len(job_ids),
        "statuses": statuses,
        "wall_s": round(wall, 1),
        "scheduler_s": round(scheduled, 2),
        "jobs_per_s": round(len(job_ids) / wall, 2),
        "box_api_requests_per_job_sandbox": round(api / max(1, len(job_ids)), 2),
        "box_api_requests_per_job_reported": round(statistics.mean(box), 2) if box else 0,
        "storage_requests_per_job_mean": round(statistics.mean(storage), 2) if storage else 0,
        "storage_requests_per_job_max": max(storage, default=0),
        "peak_rss_mib_per_worker": rss,
    }


def _no_change_jobs(task: Any, box_user_id: str, repeat: int) -> dict[str, Any]:
    from boxvault.backups.models import TaskUser
    from boxvault.backups.services import start_backup
    from boxvault.core import clock
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    times: list[float] = []
    storage: list[int] = []
    box: list[int] = []
    for _ in range(repeat):
        user = TaskUser.objects.get(task=task, box_user_id=box_user_id)
        job = start_backup(user, initiator=None, now=clock.now())
        t0 = time.perf_counter()
        assert jobs.run(job.pk) == "succeeded", list(Job.objects.get(pk=job.pk).log.values_list("message"))
        times.append(time.perf_counter() - t0)
        result = Job.objects.get(pk=job.pk).result
        storage.append(result["storage_requests"])
        box.append(result["box_requests"])
    return {
        "median_s": round(statistics.median(times), 3),
        "storage_requests": storage,
        "box_requests": box,
    }


def add_snapshots(task: Any, count: int, users: int) -> None:
    """`count` snapshots of `users` other users, in the repository and in the catalog (a year of nights)."""
    from boxvault.backups import repository
    from boxvault.backups.models import CatalogSnapshot, TaskUser
    from boxvault.engine.gojson import format_datetime
    from boxvault.engine.snapshot import Snapshot

    repo = repository.open_repository(task)
    template = repo.load_snapshot(repo.list_ids("snapshots")[0])
    start = datetime(2024, 1, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(count):
        when = start + timedelta(days=i // users)
        snap = Snapshot.from_json(template.to_json(), "")
        snap.tags = ["box", f"user:bench{i % users}", f"task:{task.uuid}"]
        snap.time = format_datetime(when)
        sid = repo.save_snapshot(snap)
        rows.append(
            CatalogSnapshot(
                task=task,
                scope=task.enterprise_id,
                box_user_id=f"bench{i % users}",
                snapshot_id=sid,
                time=when,
                files=20,
                bytes=1000,
            )
        )
    CatalogSnapshot.objects.bulk_create(rows, batch_size=2000)
    for n in range(users):
        TaskUser.objects.get_or_create(
            task=task,
            box_user_id=f"bench{n}",
            defaults={"login": f"bench{n}@bench.example", "first_backup_at": start},
        )
    repo.close()


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000, 1)


def list_latency(task: Any, user: Any, box_user_id: str, runs: int) -> dict[str, Any]:
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    out: dict[str, Any] = {}
    for name, url, query in (
        ("api", f"/api/v1/tasks/{task.pk}/users/{box_user_id}/snapshots/", {"from": "2024-01-01"}),
        ("page", f"/recovery/tasks/{task.pk}/users/{box_user_id}/", {"from": "2024-01-01"}),
    ):
        first = client.get(url, query)
        if first.status_code != 200:
            out[name] = {"status": first.status_code}
            continue
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            response = client.get(url, query)
            times.append(time.perf_counter() - t0)
            assert response.status_code == 200
        count = first.json()["count"] if name == "api" else None
        out[name] = {"p50_ms": p(times, 0.5), "p95_ms": p(times, 0.95), "snapshots_listed": count}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=2, help="queue threads per `boxvault worker`")
    parser.add_argument("--queue", choices=["redis", "fork"], default="redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--skip-snapshots", action="store_true", help="only the two nights")
    parser.add_argument("--snapshots", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bv-nightly-"))
    schema = f"bench_nightly_{os.getpid()}"
    report: dict[str, Any] = {
        "users": args.users,
        "files_per_user": args.files,
        "queue": args.queue,
        "workers": args.workers,
        "threads_per_worker": args.threads if args.queue == "redis" else 1,
        "load_average_at_start": os.getloadavg(),
    }
    sandbox = pool = None
    try:
        t0 = time.perf_counter()
        seeded = run_cli(
            [
                "sandbox", "seed", "--data", str(tmp / "box"), "--users", str(args.users),
                "--files-per-user", str(args.files), "--large-files", "0", "--json",
            ]
        )  # fmt: skip
        creds = json.loads(seeded.stdout)
        report["seed_s"] = round(time.perf_counter() - t0, 1)
        sandbox = Sandbox(tmp / "box")
        os.environ["BOXVAULT_BOX_API_URLS"] = sandbox.url  # the operator's allow-list, as the demo sets it
        report["box_rate_per_user"] = os.environ.get("BOXVAULT_BOX_RATE_PER_USER", "16 (default)")
        setup_django(tmp, args.postgres_url, schema, args.redis_url if args.queue == "redis" else None)
        from boxvault.backups import schedule
        from boxvault.backups.models import TaskUser

        if args.queue == "redis":
            pool = Workers(args.workers, args.threads, tmp)
        task, _ = make_task(sandbox, creds, "Enterprise")
        slot = TaskUser.objects.filter(task=task).exclude(next_run_at=None).first().next_run_at
        report["night1"] = night(sandbox, slot, args.workers, pool)
        change = sandbox.call("POST", "/_sandbox/mutate", {"fraction": 0.01, "seed": 7})
        report["mutated"] = {k: v for k, v in change.items() if isinstance(v, int)}
        report["night2"] = night(
            sandbox, schedule.next_slot(task.frequency, task.hour_utc, slot), args.workers, pool
        )
        report["load_average_at_end"] = os.getloadavg()
        if pool is not None:
            pool.stop()
            pool = None
        if args.skip_snapshots:
            return

        # 2. one user's no-change job in a one-user task (another account, same enterprise): 100 snapshots
        # in its repository, then `--snapshots`
        from boxvault.backups import repository
        from boxvault.backups.models import CatalogSnapshot

        repository.drop_held()
        single, admin = make_task(sandbox, creds, "Single", activate=1)
        uid = TaskUser.objects.get(task=single, status="scheduled").box_user_id
        _no_change_jobs(single, uid, 2)  # the full backup, then the first no-change one
        add_snapshots(single, 100 - CatalogSnapshot.objects.filter(task=single).count(), 55)
        before = _no_change_jobs(single, uid, args.repeat)
        add_snapshots(single, args.snapshots - CatalogSnapshot.objects.filter(task=single).count(), 55)
        after = _no_change_jobs(single, uid, args.repeat)
        report["no_change_job"] = {
            "at_100": before,
            f"at_{args.snapshots}": after,
            "ratio": round(after["median_s"] / before["median_s"], 2),
        }
        # 3. recovery list with `--snapshots` in the task (each bench user has about 365 of them)
        report["snapshots_in_task"] = CatalogSnapshot.objects.filter(task=single).count()
        report["recovery_list"] = list_latency(single, admin, "bench0", args.runs)
    finally:
        if pool is not None:
            pool.stop()
        if sandbox is not None:
            sandbox.stop()
        try:
            drop_schema(args.postgres_url, schema)
        except Exception as exc:  # noqa: BLE001 - report, keep cleaning
            print(f"could not drop schema {schema}: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
