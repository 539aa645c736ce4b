#!/usr/bin/env python3
"""Benchmark: boxvault's engine against the restic binary on the same corpus, in the same script.

usage: python bench/engine_backup.py [--corpus DIR] [--work DIR] [--runs 3]

The corpus comes from ../shared/bench/mkcorpus.py (about 1 GB, 4,800 files; built once and reused). Each run
uses fresh repositories and measures, for each tool: full backup, no-change backup and full restore, timed
as child processes (wall clock) with their peak RSS from wait4(). Prints medians and restic-time /
boxvault-time (above 1.0 means boxvault is faster). Both tools see warm page caches alike; dirty pages are
synced before each timed step. The machine's load average is printed, since other work skews the figures.

No inode is freed between the timed steps: a finished round's files are emptied and moved aside, and deleted
at the end. On ext4 without a journal (as on the benchmark machines), an inode freed in the last 60 s (360 s
while its table block is dirty) is not handed out again, and every file created meanwhile first scans past
all of them (the kernel's `recently_deleted`): a restore started seconds after another tool's restored tree
was deleted spent a third of its CPU there, and which tool met more of them was luck. A restore on a
journalled file system, or one that does not follow a mass deletion, never pays it.

`--cold` keeps the finished trees whole instead (about 2 GB per round and tool), so that every restore
writes into memory the virtual machine has not touched yet: on the benchmark machines each such page costs
the host a fault, and the page-cache copy of a 1 GB restore takes 2.5-3 CPU seconds instead of 0.3-0.7,
for both tools alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchutil import compile_sources

ROOT = Path(__file__).resolve().parents[1]
MKCORPUS = ROOT.parent / "shared" / "bench" / "mkcorpus.py"
PASSWORD = "bench-password"
STEPS = ("full backup", "no-change backup", "restore")
RECENT_S = 65.0  # ext4's RECENTCY_MIN (60 s) and a margin, for trees whose inode tables were synced


class Graveyard:
    """Where finished rounds' trees go, so that no inode is freed shortly before a timed restore.

    By default each file is emptied before its tree is moved aside: its data blocks and page-cache pages are
    freed (the next step reuses memory the machine has touched, as on a host that has run for a while), its
    inode is not. With ``cold`` the trees are kept whole and every restore writes into untouched memory;
    with less than 8 GiB free a tree is then deleted at once, and the next restore waits it out. The
    inodes are freed at the end.
    """

    def __init__(self, work: Path, *, cold: bool = False) -> None:
        self.root = work / "graveyard"
        self.cold = cold
        self.count = 0
        self.last_delete = 0.0

    def bury(self, path: Path) -> None:
        if not path.exists():
            return
        if self.cold and shutil.disk_usage(self.root.parent).free < 8 * 2**30:
            shutil.rmtree(path, ignore_errors=True)
            self.last_delete = time.monotonic()
            return
        if not self.cold:
            for p in path.rglob("*"):
                if p.is_file() and not p.is_symlink():
                    os.truncate(p, 0)
        self.root.mkdir(exist_ok=True)
        self.count += 1
        path.rename(self.root / str(self.count))

    def clear_leftovers(self, paths: list[Path]) -> None:
        """A previous run's trees, deleted now; the first restore waits them out, and whatever else was
        deleted just before this script."""
        for p in [self.root, *paths]:
            shutil.rmtree(p, ignore_errors=True)
        self.last_delete = time.monotonic()

    def settle(self) -> None:
        """Before a timed restore: wait until the file system hands out the inodes we freed again."""
        if self.last_delete:
            os.sync()
            time.sleep(max(0.0, self.last_delete + RECENT_S - time.monotonic()))

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of a child process; fails loudly on a non-zero exit."""
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}\n{err}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def tools(work: Path, baseline: Path | None = None) -> dict[str, tuple[list[str], dict[str, str]]]:
    restic = shutil.which("restic")
    if restic is None:
        sys.exit("the restic binary is not installed (apt-get install restic)")
    base = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    base["RESTIC_PASSWORD"] = PASSWORD
    boxvault_env = dict(base, PYTHONPATH=str(ROOT / "src"))
    out = {
        "restic": ([restic, "-q"], dict(base, RESTIC_CACHE_DIR=str(work / "restic-cache"))),
        "boxvault": ([sys.executable, "-m", "boxvault", "repo"], boxvault_env),
    }
    if baseline is not None:
        # another checkout's code (e.g. before a change), measured in the same alternating rounds
        out["baseline"] = ([sys.executable, "-m", "boxvault", "repo"], dict(base, PYTHONPATH=str(baseline)))
    return out


def warm(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                while f.read(1 << 20):
                    pass


def one_round(
    name: str, cmd: list[str], env: dict[str, str], corpus: Path, work: Path, graves: Graveyard
) -> dict[str, tuple[float, float, float]]:
    repo = work / f"{name}-repo"
    target = work / f"{name}-restore"
    for p in (repo, target, work / "restic-cache"):
        graves.bury(p)
    env = dict(env, RESTIC_REPOSITORY=str(repo))
    init_cmd = [*cmd, "init"]
    subprocess.run(init_cmd, env=env, check=True, capture_output=True)
    results = {
        "full backup": run([*cmd, "backup", str(corpus)], env),
        "no-change backup": run([*cmd, "backup", str(corpus)], env),
    }
    # boxvault drops a pack from the page cache once it is written (restic keeps it): read the whole
    # repository first, so that both restores start from the same warm cache
    warm(repo)
    graves.settle()
    results["restore"] = run([*cmd, "restore", "latest", "--target", str(target)], env)
    restored = target / str(corpus).lstrip("/")
    if not restored.is_dir() or not any(restored.iterdir()):
        sys.exit(f"{name} restore produced no files in {restored}")
    graves.bury(target)
    graves.bury(repo)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/boxvault-bench/corpus"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/boxvault-bench/work"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="restore into untouched memory (see above)")
    ap.add_argument("--baseline-src", type=Path, help="also measure the boxvault code in this src directory")
    a = ap.parse_args()
    compile_sources(ROOT / "src", *([a.baseline_src] if a.baseline_src else []))
    corpus: Path = a.corpus.resolve()
    if not corpus.is_dir():
        if not MKCORPUS.is_file():
            sys.exit(f"no corpus at {corpus} and no generator at {MKCORPUS}: pass --corpus DIR")
        print(f"building the corpus in {corpus} ...", flush=True)
        subprocess.run([sys.executable, str(MKCORPUS), str(corpus)], check=True)
    a.work.mkdir(parents=True, exist_ok=True)
    work: Path = a.work.resolve()
    files = sum(1 for p in corpus.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    print(f"corpus {corpus}: {files} files, {size / 2**20:.0f} MiB; {a.runs} runs; load {os.getloadavg()}")

    measured: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    setups = tools(work, a.baseline_src)
    graves = Graveyard(work, cold=a.cold)
    graves.clear_leftovers([work / f"{n}-{k}" for n in setups for k in ("repo", "restore")])
    for i in range(a.runs):
        order = list(setups) if i % 2 == 0 else list(reversed(setups))  # alternate who goes first
        if len(order) > 2:
            order = order[i % len(order) :] + order[: i % len(order)]  # rotate three tools
        for name in order:
            cmd, env = setups[name]
            for step, value in one_round(name, cmd, env, corpus, work, graves).items():
                measured.setdefault(name, {}).setdefault(step, []).append(value)
            print(f"  run {i + 1} {name}: " + ", ".join(
                f"{s} {measured[name][s][-1][0]:.2f}s ({measured[name][s][-1][2]:.2f} cpu)" for s in STEPS),
                flush=True)  # fmt: skip

    for bv in [n for n in setups if n != "restic"]:
        print(f"\n{bv}: {'step':<18}{'restic s':>9}{'bv s':>8}{'ratio':>7}{'restic MiB':>11}{'bv MiB':>8}"
              f"{'restic cpu':>11}{'bv cpu':>8}{'cpu ratio':>10}")  # fmt: skip
        for step in STEPS:
            r_t, b_t = (statistics.median(t for t, _, _ in measured[n][step]) for n in ("restic", bv))
            r_m, b_m = (max(m for _, m, _ in measured[n][step]) for n in ("restic", bv))
            r_c, b_c = (statistics.median(c for _, _, c in measured[n][step]) for n in ("restic", bv))
            pad = " " * (len(bv) + 2)
            print(f"{pad}{step:<18}{r_t:>9.2f}{b_t:>8.2f}{r_t / b_t:>7.2f}{r_m:>11.0f}{b_m:>8.0f}"
                  f"{r_c:>11.2f}{b_c:>8.2f}{r_c / b_c:>10.2f}")  # fmt: skip
    print(f"(medians of {a.runs}; ratio = restic / boxvault, above 1: boxvault is faster; peak RSS is the "
          f"max over runs; cpu = user+sys seconds; load average now {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs)")  # fmt: skip
    graves.clear()


if __name__ == "__main__":
    main()
