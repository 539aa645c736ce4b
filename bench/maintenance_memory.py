#!/usr/bin/env python3
"""Benchmark: memory per blob of `check` and `prune --dry-run`, boxvault against restic 0.14, same repository.

usage: python bench/maintenance_memory.py [--millions 1 5 10] [--work DIR] [--boxvault-src DIR]

For each size a synthetic repository is built once (format v2, written with boxvault's own primitives, and
checked clean by `restic check` before measuring):
* N data blobs with random ids, 100 per pack, stored lengths 1-200 KiB (uncompressed). Their packs are
  *sparse files* of exactly the size the index describes: neither `check` (without --read-data) nor a dry-run
  prune reads data packs, so nothing but their size and presence matters, and 10 million blobs cost no disk.
* index files of at most 50,000 blobs, as restic writes them.
* real, encrypted tree blobs in real packs: files of 100 blobs, 10 files per directory (tree), one root
  tree over all directories, one snapshot. 90 % of the data blobs are referenced; the other 10 % (whole packs
  and a few blobs in partly used packs) are garbage, so prune has packs to remove and to repack.

Each command runs as a child process; its peak RSS comes from wait4(). The same command on a repository of
1,000 blobs gives the fixed cost (interpreter, libraries, Go runtime), and bytes per blob is
(peak - fixed) / N. Prints a table; ``--boxvault-src`` measures another checkout (e.g. the code before).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PASSWORD = "bench-password"
BLOBS_PER_PACK = 100
BLOBS_PER_FILE = 100
FILES_PER_DIR = 10
INDEX_BLOBS = 50_000
TIME = "2026-01-01T00:00:00Z"
DIR_MODE = (1 << 31) | 0o755  # Go's os.ModeDir | 0755


def build(path: Path, n: int, seed: int = 1) -> None:
    """A synthetic repository of ``n`` data blobs (see the module docstring). Runs in a child process: a
    forked child's peak RSS starts at its parent's, so the measuring process must stay small."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "src"))
    from boxvault.engine.maint_io import PackBuilder, pack_name, save_json
    from boxvault.engine.prune_plan import HEADER_OVERHEAD, PLAIN_ENTRY_SIZE
    from boxvault.engine.repository import Repository
    from boxvault.engine.storage import open_backend
    from boxvault.engine.tree import Node, encode_tree

    shutil.rmtree(path, ignore_errors=True)
    repo = Repository.init(open_backend(str(path)), PASSWORD)
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    lengths = rng.integers(1024, 200 * 1024, size=n, dtype=np.int64)
    n_packs = (n + BLOBS_PER_PACK - 1) // BLOBS_PER_PACK
    pack_ids = rng.integers(0, 256, size=(n_packs, 32), dtype=np.uint8)
    # garbage: every 20th pack entirely, and every 20th blob elsewhere (about 10 %)
    pack_of = np.arange(n) // BLOBS_PER_PACK
    used = ~((pack_of % 20 == 7) | (np.arange(n) % 20 == 3))

    # data packs: sparse files of the size the index entries describe
    index_entries: list[object] = []
    index_parts: list[str] = []

    def flush_index(force: bool = False) -> None:
        nonlocal index_entries
        if index_parts and (force or len(index_entries) >= INDEX_BLOBS):
            body = '{"packs":[' + ",".join(index_parts) + "]}"
            save_json(repo, "index", json.loads(body))
            index_parts.clear()
            index_entries = []

    for p in range(n_packs):
        lo, hi = p * BLOBS_PER_PACK, min(n, (p + 1) * BLOBS_PER_PACK)
        offsets = np.concatenate([[0], np.cumsum(lengths[lo:hi])[:-1]])
        size = int(lengths[lo:hi].sum()) + (hi - lo) * PLAIN_ENTRY_SIZE + HEADER_OVERHEAD
        pid = pack_ids[p].tobytes().hex()
        name = path / pack_name(pid)
        name.parent.mkdir(parents=True, exist_ok=True)
        with open(name, "wb") as f:
            f.truncate(size)
        blobs = [
            f'{{"id":"{ids[i].tobytes().hex()}","type":"data","offset":{int(offsets[i - lo])},'
            f'"length":{int(lengths[i])}}}'
            for i in range(lo, hi)
        ]
        index_parts.append(f'{{"id":"{pid}","blobs":[{",".join(blobs)}]}}')
        index_entries += blobs
        flush_index()

    # trees: files of BLOBS_PER_FILE used blobs, FILES_PER_DIR files per directory, one root
    used_ids = ids[used]
    builder = PackBuilder(repo, 16 * 2**20)
    dirs: list[Node] = []
    per_dir = BLOBS_PER_FILE * FILES_PER_DIR
    for d in range(0, len(used_ids), per_dir):
        chunk = used_ids[d : d + per_dir]
        files = []
        for f in range(0, len(chunk), BLOBS_PER_FILE):
            content = [chunk[i].tobytes() for i in range(f, min(len(chunk), f + BLOBS_PER_FILE))]
            files.append(
                Node(name=f"f{f // BLOBS_PER_FILE:03d}", type="file", mode=0o644, mtime=TIME, content=content)
            )
        tree_id = builder.add_plain("tree", encode_tree(files), always=True)
        dirs.append(Node(name=f"d{d // per_dir:07d}", type="dir", mode=DIR_MODE, mtime=TIME, subtree=tree_id))
    root = builder.add_plain("tree", encode_tree(dirs), always=True)
    tree_packs = builder.finish()
    for pk in tree_packs:
        index_parts.append(
            json.dumps(
                {
                    "id": pk.pack_id.hex(),
                    "blobs": [
                        {
                            "id": bid.hex(),
                            "type": "tree",
                            "offset": off,
                            "length": length,
                            "uncompressed_length": ulen,
                        }
                        for _, bid, off, length, ulen in pk.blobs
                    ],
                }
            )
        )
        index_entries += ["t"] * len(pk.blobs)
        flush_index()
    flush_index(force=True)
    save_json(
        repo,
        "snapshots",
        {"time": TIME, "tree": root.hex(), "paths": ["/synthetic"], "hostname": "bench", "username": "bench"},
    )


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{err[-3000:]}")
    return usage.ru_maxrss / 1024, elapsed


def commands(src: Path, repo: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    restic = shutil.which("restic")
    if restic is None:
        sys.exit("the restic binary is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env.update(RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=str(repo))
    bv_env = dict(env, PYTHONPATH=str(src))
    bv = [sys.executable, "-m", "boxvault", "repo"]
    return {
        "restic check": ([restic, "--no-cache", "-q", "check"], env),
        "boxvault check": ([*bv, "check"], bv_env),
        "restic prune --dry-run": ([restic, "--no-cache", "-q", "prune", "--dry-run"], env),
        "boxvault prune --dry-run": ([*bv, "prune", "--dry-run"], bv_env),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--millions", type=float, nargs="+", default=[1, 5, 10])
    ap.add_argument("--work", type=Path, default=Path("/tmp/boxvault-maint-bench"))
    ap.add_argument("--boxvault-src", type=Path, default=ROOT / "src", help="the boxvault code to measure")
    ap.add_argument("--keep", action="store_true", help="keep the synthetic repositories for another run")
    ap.add_argument("--tools", nargs="+", default=["restic", "boxvault"], help="which tools to measure")
    ap.add_argument("--build", nargs=2, metavar=("DIR", "BLOBS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(Path(args.build[0]), int(args.build[1]))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}")
    sizes = [1000] + [int(m * 1_000_000) for m in args.millions]
    fixed: dict[str, float] = {}
    rows = []
    for n in sizes:
        repo = args.work / f"repo-{n}"
        if not (repo / "config").exists():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--build", str(repo), str(n)], check=True)
            print(f"built {n:,} blobs in {time.perf_counter() - t0:.0f} s", flush=True)
        for name, (cmd, env) in commands(args.boxvault_src, repo).items():
            if name.split()[0] not in args.tools:
                continue
            peak, wall = run_measured(cmd, env)
            if n == 1000:
                fixed[name] = peak
                print(f"{name:26s} fixed cost {peak:7.0f} MiB", flush=True)
                continue
            per_blob = (peak - fixed[name]) * 2**20 / n
            rows.append((n, name, peak, per_blob, wall))
            line = f"{n:>10,} {name:26s} peak {peak:7.0f} MiB  {per_blob:6.1f} B/blob  {wall:6.1f} s"
            print(line, flush=True)
        if not args.keep and n != 1000:
            shutil.rmtree(repo, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()}")
    print("\n| blobs | command | peak MiB | bytes per blob | wall s |\n|---|---|---|---|---|")
    for n, name, peak, per_blob, wall in rows:
        print(f"| {n:,} | {name} | {peak:.0f} | {per_blob:.1f} | {wall:.1f} |")


if __name__ == "__main__":
    main()
