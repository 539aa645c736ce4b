"""The convergence property of tests/box/test_converge.py, for longer (issue 20).

Rounds of: a backup with random changes landing between its folder listings (moves, renames, trash and
restore, deletes, new versions, new files and folders, copies, name swaps, case-only renames), checked for
(a) each id at most once at a path it had during the run with the bytes of one of its versions, then
(b) the next incremental run equals Box exactly, (c) a run without change downloads nothing. Optionally
with the events delivered twice and out of order. Prints the rounds, the problems found (none expected),
and the time per round against the anchor (a full walk of the same tree without change).

    .venv/bin/python bench/converge.py --rounds 40 --files 200 [--redelivery] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "box")]

from converge_support import Changer, Harness, converge_round  # noqa: E402

from support.sandbox import running_sandbox  # noqa: E402

KINDS = Changer.KINDS


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--changes", type=int, default=20, help="at most this many changes per round")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--redelivery", action="store_true", help="events twice and shuffled")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="boxvault-converge-") as tmp:
        home = Path(tmp)
        with running_sandbox(home, users=2, files_per_user=args.files, seed=args.seed) as sb:
            h = Harness(sb, home, sb.users[1])
            h.backup(full_walk=True)
            started = time.monotonic()
            h.backup(full_walk=True)
            anchor = time.monotonic() - started
            if args.redelivery:
                sb.set_faults(seed=args.seed, event_redelivery=0.5, event_shuffle=True)
            problems: list[str] = []
            started = time.monotonic()
            for n in range(args.rounds):
                schedule = sorted(
                    (rng.randrange(1, 30), rng.choice(KINDS), rng.randrange(1000), rng.randrange(1000))
                    for _ in range(rng.randrange(1, args.changes + 1))
                )
                problems += [f"round {n}: {p}" for p in converge_round(h, schedule, rng.random() < 0.2)]
            per_round = (time.monotonic() - started) / max(1, args.rounds)
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "problems": problems,
                "anchor_full_walk_s": round(anchor, 3),
                "round_s": round(per_round, 3),
                "round_vs_anchor": round(per_round / anchor, 2) if anchor else None,
            },
            indent=2,
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
