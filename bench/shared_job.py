"""One job per user, or one job for many users of a task? (issue 10: "decide ...; measure both").

Both ways back up the same sandbox enterprise through the connector (`box.backup.run_backup`) into a
repository that stays open between runs, as a worker holds it (keys and index loaded once), with the users
and their parent snapshots given by the caller, as the portal's database gives them:

- **per user**: one `run_backup` per user (the portal's jobs today): one writer, one final flush of packs
  and index, one catalog transaction per user;
- **shared**: one `run_backup` for all the users (a job for many users): one writer for all of them.

Night 1 backs up everything, night 2 follows `/_sandbox/mutate` (1 % of the files changed). Printed per way
and night: wall time, packs and index files written, stored bytes, Box API requests. Loopback only.

    python bench/shared_job.py [--users 40] [--files 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nightly_scale import Sandbox

from support import run_cli

PASSWORD = "bench-shared-job"


def _files(repo: Path, folder: str) -> tuple[int, int]:
    found = [p for p in (repo / folder).rglob("*") if p.is_file()]
    return len(found), sum(p.stat().st_size for p in found)


class Way:
    """One way of running the nights: its own repository, state, catalog and blob cache, held open."""

    def __init__(self, name: str, home: Path, sandbox: Sandbox, creds: dict[str, Any]) -> None:
        from boxvault.box.blobcache import BlobCache
        from boxvault.box.catalog import SqliteCatalog
        from boxvault.box.connect import CCGCredentials, Limits, connect
        from boxvault.box.state import StateStore
        from boxvault.box.users import list_users
        from boxvault.engine.repository import Repository
        from boxvault.engine.storage import open_backend

        self.name, self.home = name, home
        home.mkdir(parents=True)
        self.repo_path = home / "repo"
        self.repo = Repository.init(open_backend(str(self.repo_path)), PASSWORD)
        self.conn = connect(
            CCGCredentials(creds["client_id"], creds["client_secret"], creds["enterprise_id"]),
            api_url=sandbox.url,
            limits=Limits(per_user_rps=0, retry_base_interval=0.05),
        )
        self.state = StateStore(home / "state.sqlite")
        self.catalog = SqliteCatalog(home / "catalog.sqlite")
        self.cache = BlobCache(home / "blobcache.sqlite", self.repo.id)
        self.enterprise_id = creds["enterprise_id"]
        self.users = [u for u in list_users(self.conn.client) if u.active]
        self.parents: dict[str, str | None] = {}

    def night(self, shared: bool) -> dict[str, Any]:
        from boxvault.box.backup import BackupOptions, run_backup

        options = BackupOptions(enterprise_id=self.enterprise_id, user_workers=1, checkpoint_seconds=0)
        before_requests = self.conn.stats.requests
        packs0, bytes0 = _files(self.repo_path, "data")
        index0, _ = _files(self.repo_path, "index")
        groups = [self.users] if shared else [[u] for u in self.users]
        started = time.perf_counter()
        failed = 0
        for group in groups:
            report = run_backup(
                self.conn,
                self.repo,
                options=options,
                catalog=self.catalog,
                state=self.state,
                cache=self.cache,
                user_ids=[u.id for u in group],
                users=group,
                parents=self.parents,
            )
            for user in report.users:
                failed += user.status == "failed"
                if user.snapshot_id:
                    self.parents[user.box_user_id] = user.snapshot_id
        wall = time.perf_counter() - started
        packs1, bytes1 = _files(self.repo_path, "data")
        index1, _ = _files(self.repo_path, "index")
        return {
            "users": len(self.users),
            "failed": failed,
            "wall_s": round(wall, 2),
            "packs_written": packs1 - packs0,
            "index_files_written": index1 - index0,
            "stored_mib": round((bytes1 - bytes0) / 2**20, 2),
            "box_requests": self.conn.stats.requests - before_requests,
        }

    def close(self) -> None:
        self.cache.close()
        self.catalog.close()
        self.state.close()
        self.repo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"users": args.users, "files_per_user": args.files}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        creds = json.loads(
            run_cli(
                ["sandbox", "seed", "--data", str(tmp / "box"), "--users", str(args.users),
                 "--files-per-user", str(args.files), "--large-files", "0", "--json"]
            ).stdout
        )  # fmt: skip
        sandbox = Sandbox(tmp / "box")
        ways = {}
        try:
            ways = {name: Way(name, tmp / name, sandbox, creds) for name in ("per_user", "shared")}
            for name, way in ways.items():
                report[f"{name}_night1"] = way.night(shared=name == "shared")
            sandbox.call("POST", "/_sandbox/mutate", {"fraction": 0.01, "seed": 7})
            for name, way in ways.items():
                report[f"{name}_night2"] = way.night(shared=name == "shared")
        finally:
            for way in ways.values():
                way.close()
            sandbox.stop()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.users} users x {args.files} files")
    for key, value in report.items():
        if isinstance(value, dict):
            print(f"  {key:18s} " + "  ".join(f"{k}={v}" for k, v in value.items()))


if __name__ == "__main__":
    main()
