"""Kill campaign: `serve` and workers killed with SIGKILL during backups, restores and prunes (issue 11).

Each round enqueues work for a sandbox enterprise the way the portal does (Backup Now for every active user;
every other round a restore of a user's newest snapshot into a new folder and a retention pass that prunes),
starts a process that runs jobs and kills it with SIGKILL at a random moment. The process is, in turn (or as
`--process` says): a forked worker (`jobs.services.run` over the pending jobs), a real `boxvault worker`,
or a real `boxvault serve` (web server, queue worker and scheduler in one), the last two taking their jobs
from the queue. Then, as after a real crash: the lease expires, the reconciler hands the dead process's jobs
back (and removes its repository locks), and a fresh process runs what is left. After every round:

- every job has ended (succeeded, failed with a reason, or canceled) and none is pending or in progress;
- no user is left "In Process";
- stock `restic check` passes on the task's repository, without `restic unlock`.

A last, undisturbed night must succeed for every user. The counts are printed at the end (`--json` for a
machine). Loopback only: the sandbox on 127.0.0.1, SQLite (or `--postgres-url`), local repositories.

    python bench/kill_campaign.py [--rounds 20] [--users 4] [--files 30] [--process mixed] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nightly_scale import KEK, Sandbox, drop_schema, make_task

from support import boxvault_cmd, cli_env, free_port, run_cli

KINDS = ("fork", "worker", "serve")
LEASE = 3  # seconds: a dead worker's jobs are handed over this soon after the kill
FINAL = {"succeeded", "failed", "canceled", "partially_succeeded"}


def setup(tmp: Path, sandbox_url: str, postgres_url: str | None, fork_only: bool) -> str | None:
    """Django on SQLite in `tmp` (or a schema of its own in PostgreSQL); the job lease shortened."""
    os.environ.update(
        BOXVAULT_DATA=str(tmp / "data"),
        BOXVAULT_KEK=KEK,
        DATABASE_URL="",
        BOXVAULT_REDIS_URL="",
        BOXVAULT_BOX_API_URLS=sandbox_url,
        BOXVAULT_LOCATIONS=json.dumps({"local": {"label": "Local", "url": str(tmp / "repos")}}),
        BOXVAULT_JOB_LEASE_SECONDS=str(LEASE),
        BOXVAULT_JOB_RECONCILE_SECONDS="0",
        DJANGO_SETTINGS_MODULE="boxvault.portal.settings",
    )
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    schema = None
    if postgres_url:
        import psycopg

        schema = f"bench_kill_{uuid.uuid4().hex[:8]}"
        os.environ["DATABASE_URL"] = postgres_url
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        os.environ["PGOPTIONS"] = f"-c search_path={schema}"  # for the `boxvault` processes too
    from django.conf import settings

    from boxvault.core import bootstrap

    if schema:
        settings.DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c search_path={schema}"
    bootstrap.setup(tmp / "data")  # as `boxvault serve` does: the SQLite queue's tables too
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # job mails stay in memory
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if fork_only:
        from boxvault.jobs import services as jobs

        jobs._send = lambda job_id: None  # the forked workers below take the pending jobs themselves
    return schema


def _work(_: int) -> None:
    """A worker: run pending jobs, oldest first, until none is left (exits; the parent may kill it first)."""
    from django.db import connections

    connections.close_all()  # never share the parent's connection
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    worker = jobs.worker_identity()
    while True:
        pending = list(Job.objects.filter(status="pending").order_by("id").values_list("id", flat=True)[:1])
        if not pending:
            break
        jobs.run(pending[0], worker)
    connections.close_all()


def _spawn() -> Any:
    from django.db import connections

    connections.close_all()
    proc = multiprocessing.get_context("fork").Process(target=_work, args=(0,))
    proc.start()
    return proc


class Process:
    """What is killed: a forked worker (`jobs.services.run` over the pending jobs), or a real `boxvault
    worker` or `boxvault serve` process taking its jobs from the queue (SQLite's, in the data directory)."""

    def __init__(self, kind: str, log: Path) -> None:
        self.kind = kind
        if kind == "fork":
            self.proc: Any = _spawn()
            self.pid = self.proc.pid
            return
        args = ["worker", "--workers", "2"] if kind == "worker" else ["serve", "--port", str(free_port())]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                boxvault_cmd(*args, "--data", os.environ["BOXVAULT_DATA"]),
                env=cli_env({"BOXVAULT_JOB_RECONCILE_SECONDS": "1"}),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return bool(self.proc.is_alive()) if self.kind == "fork" else self.proc.poll() is None

    def wait(self, seconds: float) -> None:
        if self.kind == "fork":
            self.proc.join(seconds)
        else:
            try:
                self.proc.wait(seconds)
            except subprocess.TimeoutExpired:
                pass

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.wait(30)

    def stop(self) -> None:
        if self.alive():
            if self.kind == "fork":
                self.kill()
            else:
                self.proc.terminate()
                self.wait(30)
                if self.alive():
                    self.kill()


def enqueue_round(task: Any, user: Any, rng: random.Random, heavy: bool) -> list[int]:
    """Backup Now for every active user; on heavy rounds also a restore and a retention pass that prunes."""
    from boxvault.accounts.access import for_user
    from boxvault.backups import services
    from boxvault.backups.models import CatalogSnapshot, TaskUser
    from boxvault.core import clock
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from boxvault.recovery import services as recovery

    access = for_user(user)
    before = set(Job.objects.values_list("id", flat=True))
    active = list(
        TaskUser.objects.filter(task=task, status__in=["active", "scheduled"]).values_list(
            "box_user_id", flat=True
        )
    )
    services.user_action(access, task, "backup_now", active)
    if heavy:
        newest = CatalogSnapshot.objects.filter(task=task, forgotten_at=None).order_by("-time").first()
        if newest is not None:
            recovery.start_restore(
                access,
                f"{task.pk}:{newest.snapshot_id}",
                None,
                "non_destructive",
                {"box_user_id": newest.box_user_id, "folder_id": "0"},
            )
        # a retention pass "two days from now" forgets every snapshot older than a day and prunes
        jobs.enqueue(
            account=task.account,
            kind="retention",
            task=task,
            params={"now": (clock.now() + timedelta(days=2, minutes=rng.randint(0, 600))).isoformat()},
        )
    return sorted(set(Job.objects.values_list("id", flat=True)) - before)


def settle(kind: str, log: Path) -> dict[str, int]:
    """After a kill: the dead worker's leases expire, the reconciler hands its jobs back (a forked worker's
    parent runs it; a `boxvault` process runs its own every second), a fresh process runs the rest."""
    from boxvault.backups import services
    from boxvault.core import clock
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job

    counts: Counter[str] = Counter()
    deadline = time.monotonic() + 600
    fresh = None if kind == "fork" else Process(kind, log)
    try:
        while Job.objects.exclude(status__in=FINAL).exists():
            if time.monotonic() > deadline:
                raise SystemExit("jobs did not settle within 10 minutes")
            time.sleep(LEASE + 0.5)
            if fresh is None:
                counts.update(jobs.reconcile())
                Process("fork", log).wait(600)
    finally:
        if fresh is not None:
            fresh.stop()
    services.release_stuck(clock.now() + timedelta(minutes=5))
    return dict(counts)


def restic_check(task: Any) -> tuple[bool, str]:
    from boxvault.backups import repository

    out = subprocess.run(
        ["restic", "-r", task.repository, "--no-cache", "check"],
        env={**os.environ, "RESTIC_PASSWORD": repository.password(task)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.returncode == 0, (out.stderr or out.stdout)[-500:]


def campaign(args: argparse.Namespace, sandbox: Sandbox, creds: dict[str, Any]) -> dict[str, Any]:
    from boxvault.backups.models import Task, TaskUser
    from boxvault.jobs.models import Job

    rng = random.Random(args.seed)
    log = Path(os.environ["BOXVAULT_DATA"]) / "processes.log"
    task, user = make_task(sandbox, creds, "Kill", activate=args.users)
    report: dict[str, Any] = {
        "rounds": args.rounds,
        "kills": 0,
        "kills_by_process": Counter(),
        "kills_mid_job": 0,
        "kinds_in_progress_at_kill": Counter(),
        "reconciler": Counter(),
        "checks_passed": 0,
        "check_failures": [],
        "stuck_after_round": 0,
    }
    for n in range(args.rounds):
        if n:
            sandbox.call("POST", "/_sandbox/mutate", {"fraction": 0.05, "seed": args.seed * 1000 + n})
        kind = KINDS[n % len(KINDS)] if args.process == "mixed" else args.process
        ids = enqueue_round(task, user, rng, heavy=n % 2 == 1)
        proc = Process(kind, log)
        if kind != "fork":  # a `boxvault` process takes seconds to start: the window opens at its first job
            mine = Job.objects.filter(status="in_progress", worker_id__contains=f":{proc.pid}:")
            started = time.monotonic()
            while proc.alive() and not mine.exists() and time.monotonic() - started < 60:
                time.sleep(0.05)
            proc.wait(rng.uniform(0.0, 1.0))  # somewhere in the first jobs
        else:
            proc.wait(rng.uniform(0.2, args.max_delay))
        if proc.alive():
            running = Job.objects.filter(status="in_progress", worker_id__contains=f":{proc.pid}:")
            kinds = list(running.values_list("kind", flat=True))
            proc.kill()
            report["kills"] += 1
            report["kills_by_process"][kind] += 1
            report["kills_mid_job"] += bool(kinds)
            report["kinds_in_progress_at_kill"].update(kinds)
        report["reconciler"].update(settle(kind, log))
        left = Job.objects.filter(pk__in=ids).exclude(status__in=FINAL).count()
        stuck = TaskUser.objects.filter(task=task, status="in_process").count()
        report["stuck_after_round"] += left + stuck
        task = Task.objects.get(pk=task.pk)
        ok, text = restic_check(task)
        report["checks_passed"] += ok
        if not ok:
            report["check_failures"].append({"round": n, "restic": text})
    statuses = Counter(Job.objects.values_list("status", flat=True))
    report["jobs_by_status"] = dict(statuses)
    report["jobs_by_kind_and_status"] = {
        f"{k}:{s}": c for (k, s), c in Counter(Job.objects.values_list("kind", "status")).items()
    }
    failed = Job.objects.filter(status="failed")
    reasons = list(failed.values_list("message", flat=True))
    report["failed_without_reason"] = sum(1 for m in reasons if not m.strip())
    report["failure_reasons"] = dict(Counter(m[:80] for m in reasons))
    # the next night, undisturbed: every user's backup succeeds
    ids = enqueue_round(task, user, rng, heavy=False)
    settle("fork" if args.process == "fork" else "worker", log)
    final = Counter(Job.objects.filter(pk__in=ids).values_list("status", flat=True))
    report["next_night"] = dict(final)
    report["next_night_ok"] = final == Counter({"succeeded": len(ids)}) and bool(ids)
    ok, text = restic_check(Task.objects.get(pk=task.pk))
    report["final_check"] = ok or text
    for key in ("kinds_in_progress_at_kill", "reconciler", "kills_by_process"):
        report[key] = dict(report[key])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--max-delay", type=float, default=4.0, help="latest kill, seconds after the start")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--process", choices=["mixed", *KINDS], default="mixed", help="what is killed (mixed: each in turn)"
    )
    parser.add_argument("--postgres-url", default="", help="PostgreSQL instead of SQLite (loopback)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seeded = json.loads(
            run_cli(
                ["sandbox", "seed", "--data", str(tmp / "sandbox"), "--users", str(args.users),
                 "--files-per-user", str(args.files), "--seed", str(args.seed), "--large-files", "1",
                 "--large-size-mb", "8", "--json"],
            ).stdout
        )  # fmt: skip
        sandbox = Sandbox(tmp / "sandbox")
        schema = None
        try:
            schema = setup(tmp, sandbox.url, args.postgres_url or None, fork_only=args.process == "fork")
            started = time.perf_counter()
            report = campaign(args, sandbox, seeded)
            report["wall_s"] = round(time.perf_counter() - started, 1)
        finally:
            sandbox.stop()
            if schema:
                drop_schema(args.postgres_url, schema)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key:28s} {value}")


if __name__ == "__main__":
    main()
