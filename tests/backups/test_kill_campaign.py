"""The kill campaign (bench/kill_campaign.py) in small: a forked worker, `boxvault worker` and
`boxvault serve` killed with SIGKILL during backups, restores and a prune; afterwards every job has ended,
nobody is stuck "In Process", stock `restic check` passes after each round without `restic unlock`, and the
next night succeeds for every user (issue 11)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import REPO_ROOT, require_binary

pytestmark = pytest.mark.slow


def test_kill_campaign_three_rounds() -> None:
    require_binary("restic")
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "kill_campaign.py"), "--rounds", "3", "--users", "3",
         "--files", "15", "--max-delay", "2.5", "--seed", "5", "--json"],
        capture_output=True, text=True, timeout=480, cwd=REPO_ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout[out.stdout.index('{\n  "rounds"') :])  # after any log lines
    assert report["kills"] >= 2, report  # the campaign killed something: otherwise it proves nothing
    assert report["stuck_after_round"] == 0, report
    assert report["checks_passed"] == report["rounds"] and report["check_failures"] == [], report
    assert set(report["jobs_by_status"]) <= {"succeeded", "failed", "canceled", "partially_succeeded"}
    assert report["failed_without_reason"] == 0, report
    assert report["next_night_ok"] is True and report["final_check"] is True, report
