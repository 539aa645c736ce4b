"""Portal list latency at scale: the Jobs page and API with 100,000 job rows, the Recovery snapshot list (page
and API) of one user with 20,000 snapshots. p50/p95 over `--runs` requests through Django's test client on
PostgreSQL (a schema of its own in `--postgres-url`'s database, dropped at the end; loopback only).

    python bench/portal_lists.py [--jobs 100000] [--snapshots 20000] [--runs 40] [--json]

Targets (issue 10): Jobs page and API p95 < 300 ms at 100,000 rows; Recovery list p95 < 100 ms at 20,000.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nightly_scale import drop_schema, p, setup_django


def _seed(jobs: int, snapshots: int) -> tuple[Any, Any, str]:
    from boxvault.accounts.services import create_account_with_admin
    from boxvault.backups.models import CatalogSnapshot, Task, TaskUser
    from boxvault.jobs.models import Job

    member = create_account_with_admin(email="bench@a.example", password="Bench-Password-123", name="Bench")
    account = member.account
    task = Task.objects.create(
        account=account,
        name="Bench task",
        kind=Task.Kind.CCG,
        status=Task.Status.CONNECTED,
        enterprise_id="e1",
        created_at=datetime.now(UTC),
    )
    user = TaskUser.objects.create(
        task=task, box_user_id="100", login="u@box.example", name="U", box_status="active"
    )
    now = datetime.now(UTC)
    statuses = ["succeeded", "succeeded", "succeeded", "partially_succeeded", "failed", "canceled"]
    batch: list[Any] = []
    for n in range(jobs):
        when = now - timedelta(seconds=n * 77)  # ~90 days of jobs
        batch.append(
            Job(
                account=account,
                kind="backup" if n % 10 else "restore",
                status=statuses[n % len(statuses)],
                task_id=task.pk,
                task_name=task.name,
                box_user_id=str(100 + n % 1000),
                box_user_login=f"user{n % 1000}@box.example",
                created_at=when,
                started_at=when,
                finished_at=when + timedelta(seconds=30),
                items_done=n % 500,
                bytes_done=n * 1000,
            )
        )
        if len(batch) == 5000:
            Job.objects.bulk_create(batch)
            batch = []
    Job.objects.bulk_create(batch)
    first = now - timedelta(days=snapshots)
    CatalogSnapshot.objects.bulk_create(
        (
            CatalogSnapshot(
                task=task,
                scope="e1",
                box_user_id="100",
                snapshot_id=uuid.uuid4().hex + uuid.uuid4().hex,
                time=first + timedelta(days=n),
                files=1000,
                bytes=10**6,
            )
            for n in range(snapshots)
        ),
        batch_size=5000,
    )
    user.first_backup_at = first
    user.save(update_fields=["first_backup_at"])
    from django.db import connection

    with connection.cursor() as cursor:
        # autovacuum analyses (and vacuums) a live table as it grows; a bulk load seconds old has neither
        # statistics nor a visibility map yet, and would measure the seeding, not the queries
        cursor.execute("VACUUM ANALYZE")
    return member.user, task, "100"


def _latency(user: Any, urls: dict[str, tuple[str, dict[str, str]]], runs: int) -> dict[str, Any]:
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    out: dict[str, Any] = {}
    for name, (url, query) in urls.items():
        assert client.get(url, query).status_code == 200, name  # warm
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            response = client.get(url, query)
            times.append(time.perf_counter() - t0)
            assert response.status_code == 200, name
        out[name] = {"p50_ms": p(times, 0.5), "p95_ms": p(times, 0.95)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    schema = f"bench_lists_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp), args.postgres_url, schema, None)
        try:
            t0 = time.perf_counter()
            user, task, box_user_id = _seed(args.jobs, args.snapshots)
            seeded = time.perf_counter() - t0
            since = (datetime.now(UTC) - timedelta(days=args.snapshots + 1)).date().isoformat()
            result = _latency(
                user,
                {
                    "jobs_page": ("/jobs/", {}),
                    "jobs_page_failed_7_days": ("/jobs/", {"status": "failed", "days": "7"}),
                    "jobs_api": ("/api/v1/jobs/", {}),
                    "jobs_api_user_search": ("/api/v1/jobs/", {"q": "user42@"}),
                    "jobs_page_user_search": ("/jobs/", {"q": "user42@"}),
                    "jobs_api_no_match_search": ("/api/v1/jobs/", {"q": "no such thing"}),
                    "recovery_page": (f"/recovery/tasks/{task.pk}/users/{box_user_id}/", {"from": since}),
                    "recovery_api": (
                        f"/api/v1/tasks/{task.pk}/users/{box_user_id}/snapshots/",
                        {"from": since},
                    ),
                },
                args.runs,
            )
        finally:
            drop_schema(args.postgres_url, schema)
    report = {"jobs": args.jobs, "snapshots": args.snapshots, "runs": args.runs, "seed_s": round(seeded, 1)}
    report |= result
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.jobs} job rows, {args.snapshots} snapshots of one user (seeded in {seeded:.1f} s)")
    for name, figures in result.items():
        print(f"  {name:28s} p50 {figures['p50_ms']:7.1f} ms   p95 {figures['p95_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
