"""Smart alerts: false-positive rate over simulated days of ordinary change, and detection of attacks.

A sandbox enterprise (default 5 users, 200 files each) is backed up through the portal's real job path
(Backup Now -> job -> engine -> catalog -> smart alerts) once per simulated day, after `mutate --fraction
0.02` (ordinary: new versions, renames, moves, trash, deletes, new files). Every user-snapshot compared with
its predecessor is one trial; an alert on such a day is a false positive. Then attacks on three users (mass
"encryption" of 5 %, 10 % and 30 % of their files, and a 30 % mass delete on a fourth) show what is caught.

Anchor: the time the smart-alert analysis takes is printed as a ratio of the backup jobs' own time.

    python bench/smart_alerts_fp.py [--days 30] [--users 5] [--files 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]
DATA = Path(tempfile.mkdtemp(prefix="bench-smart-"))
os.environ["BOXVAULT_DATA"] = str(DATA / "portal")
os.environ.setdefault("BOXVAULT_KEK", "dGVzdC1rZWstMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG0=")
os.environ["BOXVAULT_BOX_RATE_PER_USER"] = "0"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("BOXVAULT_REDIS_URL", None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()

    from boxvault.core import bootstrap

    bootstrap.setup(DATA / "portal")
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from support.sandbox import running_sandbox

    with running_sandbox(DATA / "box", users=args.users, files_per_user=args.files, seed=42) as sandbox:
        run(sandbox, args)


def run(sandbox: Any, args: argparse.Namespace) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import create_account_with_admin
    from boxvault.backups import services
    from boxvault.jobs import services as jobs
    from boxvault.jobs.models import Job
    from boxvault.notifications import smart
    from boxvault.notifications.models import ChangeStats

    spent = {"analysis": 0.0, "jobs": 0.0}
    original = smart.after_backup

    def timed(job: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(job)
        finally:
            spent["analysis"] += time.perf_counter() - started

    smart.after_backup = timed  # the receiver imports it at call time
    admin = create_account_with_admin(
        email="bench@example.org",
        password="Bench-Password-12345",
        name="Bench",
        first_name="B",
        last_name="B",
    )
    access = for_user(admin.user)
    task = services.create_ccg_task(
        access,
        name="Bench",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        enterprise_id=sandbox.enterprise_id,
        api_url=sandbox.url,
    )
    ids = [u["id"] for u in sandbox.users]
    services.user_action(access, task, "activate", ids)

    def backup(users: list[str]) -> None:
        services.user_action(access, task, "backup_now", users)
        for job in Job.objects.filter(task_id=task.pk, status="pending").order_by("id"):
            started = time.perf_counter()
            status = jobs.run(job.pk)
            spent["jobs"] += time.perf_counter() - started
            if status != "succeeded":
                raise SystemExit(f"backup job {job.pk} ended {status}")

    backup(ids)  # baseline
    for day in range(args.days):
        sandbox.mutate(fraction=0.02, seed=1000 + day)
        backup(ids)
        alerts = ChangeStats.objects.filter(alerted=True).count()
        print(f"day {day + 1:2d}: {ChangeStats.objects.count():4d} comparisons, {alerts} alerts", flush=True)
    trials = ChangeStats.objects.count()
    false_positives = ChangeStats.objects.filter(alerted=True).count()
    shares = [(s.deleted + s.modified) / s.files_before for s in ChangeStats.objects.all() if s.files_before]
    print(
        f"\nordinary days: {args.days} days x {len(ids)} users = {trials} comparisons, "
        f"{false_positives} alerts -> false-positive rate {false_positives / max(trials, 1):.2%}"
    )
    print(f"changed share per user-day: mean {sum(shares) / len(shares):.2%}, max {max(shares):.2%}")

    # Each attack on one user, then every user backed up: the attacked user should alert; others may too
    # when they see the attacked files through shared folders (their Box changed as well).
    attacks = [("delete", 0.30), ("encrypt", 0.05), ("encrypt", 0.10), ("encrypt", 0.30)]
    for (mode, fraction), user in zip(attacks, ids, strict=False):
        last = ChangeStats.objects.order_by("-id").values_list("id", flat=True).first() or 0
        report = sandbox.attack(mode, user, fraction=fraction, seed=7)
        backup(ids)
        for new in ChangeStats.objects.filter(id__gt=last).order_by("box_user_id"):
            if new.box_user_id != user and not new.alerted:
                continue
            who = "attacked" if new.box_user_id == user else "shares files with it"
            print(
                f"attack {mode:7s} {fraction:4.0%} of user {user} ({len(report['file_ids'])} files); "
                f"user {new.box_user_id} ({who}, {new.files_before} files, {new.deleted} deleted, "
                f"{new.modified} modified): {'ALERT' if new.alerted else 'no alert'} - "
                f"{new.details.get('reason') or 'below thresholds'}"
            )
    ratio = spent["analysis"] / spent["jobs"] if spent["jobs"] else 0.0
    print(
        f"\nanalysis time {spent['analysis']:.1f} s vs backup jobs {spent['jobs']:.1f} s "
        f"(anchor): ratio {ratio:.3f}"
    )


if __name__ == "__main__":
    main()
