"""One Box user with very many files (issue 18): peak memory, time and Box requests as the file count grows,
and a first backup killed half way then run again.

1. For each size (default 10,000 and 100,000 files, ~1 KB each, in the sandbox's folder layout): a full
   backup, a 1 %-changed incremental and a no-change run of `boxvault box backup` in a subprocess; its peak
   RSS from wait4(). The anchor is the smallest size: `rss_ratio` = peak RSS / the smallest size's.
2. `--synthetic N` (default 1,000,000): the same user's snapshot built from a synthetic listing straight
   through the engine (post-order, as the Box walk finishes folders), in a subprocess, against the same
   builder at the smallest size. A million-file sandbox takes this machine's memory and hours of seeding;
   the engine is where the per-file cost of a snapshot lives.
3. `--kill-files N` (default: the largest size): a first backup killed with SIGKILL once half the files
   are downloaded, then run again; the rerun's downloads and wall time against an uninterrupted run.

    python bench/huge_user.py [--sizes 10000,100000] [--synthetic 1000000] [--kill-files 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH)]

from benchutil import compile_sources  # noqa: E402
from box_backup import PASSWORD, Sandbox, backup, backup_cmd, seed  # noqa: E402

from support import cli_env, run_cli, wait_for  # noqa: E402

SYNTHETIC = r"""
import os, resource, sys, tempfile, time, tracemalloc
from boxvault.engine.repository import Repository
from boxvault.engine.storage import LocalBackend
files, per_dir = int(sys.argv[1]), 100
repo = Repository.init(LocalBackend(tempfile.mkdtemp(dir=sys.argv[2])), "bench")
start = time.perf_counter()
with repo.writer() as w:
    b = w.snapshot(hostname="box-bench", paths=["/user"])
    with b.add_file("/user/seed.bin") as f:
        f.write(os.urandom(1000))
    blob = f.result.content
    # the key derivation of init/open sets the process's peak RSS: the builder is measured on its own
    tracemalloc.start()
    for d in range(files // per_dir):
        top, folder = f"/user/team-{d // 100:05d}", f"/user/team-{d // 100:05d}/folder-{d:07d}"
        for i in range(per_dir):
            b.add_file_blobs(f"{folder}/document-{i:04d}.docx", blob, 1000)
        b.finish_dir(folder)
        if d % 100 == 99:
            b.finish_dir(top)
    b.commit()
    _, peak = tracemalloc.get_traced_memory()
print(peak / 2**20, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - start)
"""


def synthetic(files: int, tmp: Path) -> tuple[float, float, float]:
    """(peak MiB the build allocated, peak RSS MiB of the process, seconds) of a snapshot of `files`
    files built through the engine."""
    out = subprocess.run(
        [sys.executable, "-c", SYNTHETIC, str(files), str(tmp)],
        env=cli_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def downloads(sb: Sandbox) -> int:
    return len(sb.call("GET", "/_sandbox/stats")["downloads"])


def one_size(tmp: Path, files: int, workers: int) -> dict[str, Any]:
    data = tmp / f"sandbox-{files}"
    t0 = time.perf_counter()
    creds = seed(data, 1, files, 0, max_small=2048)
    result: dict[str, Any] = {"seed_seconds": round(time.perf_counter() - t0, 1)}
    user = creds["users"][0]["id"]
    env = {
        "RESTIC_REPOSITORY": str(tmp / f"repo-{files}"),
        "RESTIC_PASSWORD": PASSWORD,
        "XDG_STATE_HOME": str(tmp / f"state-{files}"),
    }
    run_cli(["repo", "init"], env=env)
    sb = Sandbox(data)
    try:
        for name, change in (("full", None), ("incremental_1pct", 0.01), ("no_change", None)):
            if change:
                sb.call("POST", "/_sandbox/mutate", {"fraction": change, "seed": 1})
            sb.call("DELETE", "/_sandbox/stats")
            report, wall, rss = backup(sb, creds, env, user, workers, "--no-metadata")
            u = report["users"][0]
            result[name] = {
                "files": u["files"],
                "seconds": round(wall, 2),
                "peak_rss_MiB": round(rss, 1),
                "api_requests": sb.api_requests(),
                "downloads": downloads(sb),
                "failed": u["failed"],
            }
            print(f"{files} files, {name}:", json.dumps(result[name]), flush=True)
    finally:
        sb.stop()
    shutil.rmtree(data, ignore_errors=True)
    return result


def kill_half(tmp: Path, files: int, workers: int) -> dict[str, Any]:
    data = tmp / "sandbox-kill"
    creds = seed(data, 1, files, 0, max_small=2048)
    user = creds["users"][0]["id"]
    sb = Sandbox(data)
    out: dict[str, Any] = {"files": files}
    try:
        for name in ("uninterrupted", "killed"):
            env = {
                "RESTIC_REPOSITORY": str(tmp / f"repo-{name}"),
                "RESTIC_PASSWORD": PASSWORD,
                "XDG_STATE_HOME": str(tmp / f"state-{name}"),
            }
            run_cli(["repo", "init"], env=env)
            sb.call("DELETE", "/_sandbox/stats")
            if name == "uninterrupted":
                _, wall, _ = backup(sb, creds, env, user, workers, "--no-metadata")
                out[name] = {"seconds": round(wall, 1), "downloads": downloads(sb)}
                print("kill:", name, json.dumps(out[name]), flush=True)
                continue
            start = time.perf_counter()
            proc = subprocess.Popen(
                backup_cmd(sb, creds, user, workers, "--no-metadata"),
                env=cli_env(env),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            half = files // 2

            def halfway(proc: subprocess.Popen[bytes] = proc, half: int = half) -> bool:
                return downloads(sb) >= half or proc.poll() is not None

            wait_for(halfway, 7200, "half the files")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            before = downloads(sb)
            first = time.perf_counter() - start
            sb.call("DELETE", "/_sandbox/stats")
            report, wall, _ = backup(sb, creds, env, user, workers, "--no-metadata")
            restic_env = {**os.environ, "RESTIC_REPOSITORY": env["RESTIC_REPOSITORY"]}
            restic_env["RESTIC_PASSWORD"] = PASSWORD
            check = subprocess.run(
                ["restic", "check"],
                env=restic_env,
                capture_output=True,
                text=True,
            )
            again = downloads(sb)
            out[name] = {
                "downloads_before_kill": before,
                "seconds_before_kill": round(first, 1),
                "rerun_downloads": again,
                "rerun_seconds": round(wall, 1),
                "downloaded_twice": before + again - out["uninterrupted"]["downloads"],
                "status": report["status"],
                "restic_check_ok": check.returncode == 0,
            }
            out["rerun_downloads_ratio"] = round(again / out["uninterrupted"]["downloads"], 3)
            out["total_seconds_ratio"] = round((first + wall) / out["uninterrupted"]["seconds"], 3)
            print("kill:", name, json.dumps(out[name]), flush=True)
    finally:
        sb.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="empty to skip the sandbox runs")
    ap.add_argument("--synthetic", type=int, default=1_000_000, help="0 to skip")
    ap.add_argument("--anchor", type=int, default=10_000, help="the synthetic run's anchor size")
    ap.add_argument("--kill-files", type=int, default=None, help="0 to skip; default the largest size")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    compile_sources(BENCH.parent / "src")
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    tmp = Path(tempfile.mkdtemp(prefix="bench-huge-"))
    results: dict[str, Any] = {}
    try:
        for files in sizes:
            results[str(files)] = one_size(tmp, files, args.workers)
        base = results[str(sizes[0])]["full"]["peak_rss_MiB"] if sizes else 0.0
        for files in sizes:
            full = results[str(files)]["full"]
            full["rss_ratio"] = round(full["peak_rss_MiB"] / base, 3)
        if args.synthetic:
            small_peak, small_rss, _ = synthetic(args.anchor, tmp)
            big_peak, big_rss, big_s = synthetic(args.synthetic, tmp)
            results["synthetic"] = {
                "anchor_files": args.anchor,
                "anchor_build_peak_MiB": round(small_peak, 1),
                "anchor_peak_rss_MiB": round(small_rss, 1),
                "files": args.synthetic,
                "build_peak_MiB": round(big_peak, 1),
                "peak_rss_MiB": round(big_rss, 1),
                "seconds": round(big_s, 1),
                "build_peak_ratio": round(big_peak / small_peak, 3),
                "rss_ratio": round(big_rss / small_rss, 3),
            }
            print("synthetic:", json.dumps(results["synthetic"]), flush=True)
        kill_files = (sizes[-1] if sizes else 0) if args.kill_files is None else args.kill_files
        if kill_files:
            results["kill"] = kill_half(tmp, kill_files, args.workers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
