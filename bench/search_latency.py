"""Item-search latency at catalog scale: p50/p95/p99 of `search_items` over 1,000,000 catalog rows.

Fills one task's catalog with realistic rows (Zipf-distributed name words, folders, 2,000 people as
authors, versions spread over the users' snapshots), then times a mix of searches through the same
service the API calls (page of 50, results described with their snapshots):

    common word, rare word, phrase, author, name prefix, date range, combined, one user's common word

Target: p95 < 200 ms per query kind and overall. Anchor: the same mix as naive `LIKE '%word%'` scans
on the catalog table (what the catalog did before the index), timed in the same run; the script prints
the ratio naive/indexed.

    python bench/search_latency.py --backend sqlite|postgres [--rows 1000000] [--runs 40] [--naive-runs 5]

SQLite runs in a temporary data directory; PostgreSQL in a schema of its own in the `test` database on
127.0.0.1:5432 (`--postgres-url` to change), dropped at the end. Rows go in by bulk insert (SQLite,
then the FTS index is rebuilt in one pass) or COPY (PostgreSQL, then the index table and its GIN
indexes are built once), which is how a restore of the database would load them as well.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

TARGET_MS = 200.0
USERS = 500
SNAPSHOTS_PER_USER = 10
PEOPLE = 2000
EPOCH = datetime(2019, 1, 1, tzinfo=UTC)
DAYS = 6 * 365

COMMON = (
    "report budget invoice meeting notes project plan draft final review contract proposal summary "
    "presentation minutes agenda schedule analysis forecast policy manual guide template design spec "
    "roadmap strategy marketing sales finance legal hr payroll customer vendor partner quarterly annual "
    "monthly weekly team client product release launch campaign research survey results data export "
    "backup archive scan photo image logo brochure newsletter memo letter statement receipt order quote "
    "estimate timesheet expense travel training onboarding handbook checklist audit compliance security "
    "risk incident status update version copy old new signed approved"
).split()
FOLDERS = (
    "Documents Projects Finance Marketing Sales Legal HR Shared Archive Clients Vendors Reports "
    "Presentations Photos Design Engineering Operations Board Team Personal 2019 2020 2021 2022 2023 2024"
).split()
EXTENSIONS = "pdf docx xlsx pptx txt png jpg csv md zip key numbers".split()
FIRST = (
    "Ada Alan Alice Amir Anna Ben Bob Carla Chen Chloe Dan David Elena Emma Eva Farid Grace Hana Ivan Jack "
    "James Jana Jo Kai Kim Lars Lea Liam Lina Luca Maria Mark Mia Nina Noah Olga Omar Paul Petra Raj Rosa "
    "Sam Sara Sofia Tom Uma Vera Wei Yuki Zoe"
).split()
LAST = (
    "Smith Jones Brown Garcia Miller Davis Wilson Moore Taylor Anderson Thomas Jackson White Harris Martin "
    "Thompson Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter "
    "Phillips Evans Turner Torres Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Peterson "
    "Cooper Reed Bailey Bell Gomez Kelly Howard Ward Cox Diaz Richardson Wood Watson Brooks Bennett Gray"
).split()


# ------------------------------------------------------------------ set-up per backend
class Backend:
    def __init__(self, kind: str, postgres_url: str) -> None:
        self.kind = kind
        self.tmp = Path(tempfile.mkdtemp(prefix="bv-search-bench-"))
        self.schema = f"bench_search_{os.getpid()}"
        os.environ["BOXVAULT_DATA"] = str(self.tmp)
        os.environ.pop("DATABASE_URL", None)
        if kind == "postgres":
            os.environ["DATABASE_URL"] = postgres_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boxvault.portal.settings")

    def setup(self) -> None:
        import django
        from django.conf import settings

        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {self.schema}")
            settings.DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
                f"-c search_path={self.schema}"
            )
            settings.DATABASES["default"]["CONN_MAX_AGE"] = None
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def teardown(self) -> None:
        from django.db import connection

        connection.close()
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ data
class Data:
    """Deterministic generator of catalog rows, and of queries that hit them."""

    def __init__(self, seed: int = 42) -> None:
        self.rng = random.Random(seed)
        weights = [1 / (rank + 1) for rank in range(len(COMMON))]
        self.word_weights = weights
        self.people = [
            json.dumps(
                {
                    "id": str(10_000 + i),
                    "name": f"{f} {la}",
                    "login": f"{f.lower()}.{la.lower()}{i}@corp.example",
                },
                separators=(",", ":"),
            )
            for i, (f, la) in enumerate(
                (self.rng.choice(FIRST), self.rng.choice(LAST)) for _ in range(PEOPLE)
            )
        ]
        self.rare: list[str] = []
        self.phrases: list[tuple[str, str]] = []

    def name(self) -> str:
        rng = self.rng
        words = rng.choices(COMMON, self.word_weights, k=rng.randint(1, 4))
        if rng.random() < 0.3:  # a rarer token: a code, a client name, a number
            token = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=3)) + str(rng.randint(10, 9999))
            words.append(token)
            if len(self.rare) < 2000 and rng.random() < 0.01:
                self.rare.append(token)
        if len(words) >= 2 and len(self.phrases) < 2000 and rng.random() < 0.01:
            self.phrases.append((words[0], words[1]))
        sep = rng.choice([" ", "_", "-", " "])
        return sep.join(words) + "." + rng.choice(EXTENSIONS)

    def rows(self, count: int, task_id: int, snapshots: dict[str, list[int]]) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        users = list(snapshots)
        for n in range(count):
            user = users[n % len(users)]
            snaps = snapshots[user]
            start = rng.randrange(len(snaps))
            until = (
                snaps[rng.randrange(start + 1, len(snaps))]
                if rng.random() < 0.3 and start + 1 < len(snaps)
                else None
            )
            folder = "/".join(rng.choices(FOLDERS, k=rng.randint(1, 4)))
            name = self.name()
            author = rng.choice(self.people)
            modifier = author if rng.random() < 0.6 else rng.choice(self.people)
            when = (EPOCH + timedelta(seconds=rng.randrange(DAYS * 86400))).strftime(
                "%Y-%m-%dT%H:%M:%S-08:00"
            )
            yield (
                task_id,
                "e1",
                user,
                f"{n:040x}",
                str(100_000_000 + n),
                "file",
                f"{folder}/{name}",
                name,
                str(n),
                f"{n:040x}",
                "1",
                rng.randrange(1, 50_000_000),
                author,
                modifier,
                author,
                when,
                when,
                when,
                snaps[start],
                until,
            )


COLUMNS = (
    "task_id scope box_user_id key item_id item_type path name version_id sha1 etag size created_by "
    "modified_by owned_by created_at modified_at content_modified_at from_snapshot_id until_snapshot_id"
).split()


def fill(backend: str, count: int, data: Data) -> Any:
    from django.db import connection, transaction

    from boxvault.accounts.models import Account
    from boxvault.backups.models import CatalogSnapshot, Task
    from boxvault.search import schema

    now = datetime.now(UTC)
    account = Account.objects.create(
        name="Bench", email="bench@corp.example", location="local", created_at=now
    )
    task = Task.objects.create(
        account=account,
        name="bench",
        created_at=now,
        kind="ccg",
        sealed_key="-",
        kek_fingerprint="-",
        sealed_repo_password="-",
        location="local",
        repository="/nonexistent",
    )
    snaps = CatalogSnapshot.objects.bulk_create(
        CatalogSnapshot(
            task=task,
            scope="e1",
            box_user_id=str(1000 + u),
            snapshot_id=f"{u:032x}{s:032x}",
            time=EPOCH + timedelta(days=180 * s),
        )
        for s in range(SNAPSHOTS_PER_USER)
        for u in range(USERS)
    )
    by_user: dict[str, list[int]] = {}
    for snap in sorted(snaps, key=lambda s: s.pk):
        by_user.setdefault(snap.box_user_id, []).append(snap.pk)
    rows = data.rows(count, task.pk, by_user)
    table = schema.CATALOG
    started = time.perf_counter()
    if backend == "sqlite":
        with transaction.atomic(), connection.cursor() as cur:
            for name in schema.SQLITE_TRIGGERS:
                cur.execute(
                    f"DROP TRIGGER {name}"
                )  # re-created by ensure(), which then re-indexes in one pass
            sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('%s' for _ in COLUMNS)})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 20_000:
                    cur.executemany(sql, batch)
                    batch.clear()
            cur.executemany(sql, batch)
            loaded = time.perf_counter()
            schema.ensure(connection)
            cur.execute("ANALYZE")
    else:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {schema.PG_TRIGGER_NAME}")
            for index in ("search_doc_words", "search_doc_name", "search_doc_authors"):
                cur.execute(f"DROP INDEX {index}")
            with cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            loaded = time.perf_counter()
            cur.execute(schema.PG_FILL)
            for sql in schema.PG_INDEXES:
                cur.execute(sql)
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run COPY's queued FK checks before the ALTER
            cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {schema.PG_TRIGGER_NAME}")
        with connection.cursor() as cur:
            cur.execute(f"VACUUM ANALYZE {table}")
            cur.execute("VACUUM ANALYZE search_doc")
    done = time.perf_counter()
    print(f"loaded {count:,} rows in {loaded - started:.1f} s, indexed in {done - loaded:.1f} s", flush=True)
    return task


# ------------------------------------------------------------------ queries
def mix(data: Data) -> dict[str, Callable[[random.Random], dict[str, str]]]:
    def window(rng: random.Random, days: int) -> tuple[str, str]:
        start = EPOCH + timedelta(days=rng.randrange(DAYS - days))
        return start.date().isoformat(), (start + timedelta(days=days)).date().isoformat()

    def surname(rng: random.Random) -> str:
        return str(json.loads(rng.choice(data.people))["name"]).split()[-1]

    def dated(rng: random.Random) -> dict[str, str]:
        start, end = window(rng, 30)
        return {"date_from": start, "date_to": end}

    def combined(rng: random.Random) -> dict[str, str]:
        start, end = window(rng, 365)
        return {"q": rng.choice(COMMON[:10]), "author": surname(rng), "date_from": start, "date_to": end}

    return {
        "common word": lambda rng: {"q": rng.choice(COMMON[:5])},
        "rare word": lambda rng: {"q": rng.choice(data.rare)},
        "phrase": lambda rng: {"q": '"{} {}"'.format(*rng.choice(data.phrases))},
        "author": lambda rng: {"author": surname(rng)},
        "name prefix": lambda rng: {"name": rng.choice(COMMON[20:60])[:4]},
        "date range": dated,
        "combined": combined,
        "user + word": lambda rng: {
            "q": rng.choice(COMMON[:30]),
            "box_user_id": str(1000 + rng.randrange(USERS)),
        },
    }


def naive(task: Any, fields: dict[str, str]) -> list[int]:
    """The anchor: the catalog table scanned with LIKE '%word%' (no search index)."""
    from django.db.models import Q

    from boxvault.backups.models import CatalogVersion
    from boxvault.search.query import phrases, words

    rows = CatalogVersion.objects.filter(task=task)
    for phrase in phrases(fields.get("q")):
        rows = rows.filter(path__icontains=" ".join(phrase))
    for word in words(fields.get("author", "")):
        rows = rows.filter(Q(created_by__icontains=word) | Q(modified_by__icontains=word))
    for word in words(fields.get("name", "")):
        rows = rows.filter(name__icontains=word)
    if fields.get("date_from"):
        rows = rows.filter(content_modified_at__gte=fields["date_from"])
    if fields.get("date_to"):
        rows = rows.filter(content_modified_at__lt=fields["date_to"] + "T99")
    if fields.get("box_user_id"):
        rows = rows.filter(box_user_id=fields["box_user_id"])
    return list(rows.order_by("-id").values_list("id", flat=True)[:51])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def measure(
    fn: Callable[[dict[str, str]], Any], kinds: dict[str, Any], runs: int, seed: int
) -> dict[str, list[float]]:
    rng = random.Random(seed)
    timings: dict[str, list[float]] = {}
    for kind, make in kinds.items():
        fn(make(rng))  # warm the caches for this kind of query
        found = timings.setdefault(kind, [])
        for _ in range(runs):
            fields = make(rng)
            started = time.perf_counter()
            fn(fields)
            found.append((time.perf_counter() - started) * 1000)
    return timings


def report(title: str, timings: dict[str, list[float]]) -> float:
    print(f"\n{title}")
    print(f"  {'query':<14} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p95/200ms':>10}")
    everything: list[float] = []
    for kind, values in timings.items():
        everything += values
        p95 = percentile(values, 95)
        print(
            f"  {kind:<14} {percentile(values, 50):8.1f} {p95:8.1f} {percentile(values, 99):8.1f} "
            f"{p95 / TARGET_MS:10.2f}"
        )
    p95 = percentile(everything, 95)
    print(
        f"  {'ALL':<14} {percentile(everything, 50):8.1f} {p95:8.1f} {percentile(everything, 99):8.1f} "
        f"{p95 / TARGET_MS:10.2f}"
    )
    return p95


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40, help="timed searches per query kind")
    parser.add_argument("--naive-runs", type=int, default=5, help="timed LIKE scans per query kind (anchor)")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (data dir / schema) to inspect"
    )
    args = parser.parse_args()

    backend = Backend(args.backend, args.postgres_url)
    backend.setup()
    try:
        from boxvault.accounts.access import Access
        from boxvault.accounts.models import Member
        from boxvault.search.services import search_items

        data = Data()
        task = fill(args.backend, args.rows, data)
        access = Access(user=None, member=Member(account=task.account), account=task.account)
        kinds = mix(data)

        def indexed(fields: dict[str, str]) -> Any:
            return search_items(access, task, limit=50, **fields)

        print(f"\nbackend {args.backend}, {args.rows:,} catalog rows, {USERS} users, page of 50")
        p95 = report(f"indexed search ({args.runs} runs per kind)", measure(indexed, kinds, args.runs, 1))
        slow = report(
            f"anchor: LIKE '%word%' scan ({args.naive_runs} runs per kind)",
            measure(lambda f: naive(task, f), kinds, args.naive_runs, 1),
        )
        verdict = "meets" if p95 < TARGET_MS else "MISSES"
        print(
            f"\nindexed p95 {p95:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target"
            f" ({p95 / TARGET_MS:.2f} of it)"
        )
        print(f"anchor p95 {slow:.1f} ms: the index is {slow / max(p95, 0.001):.1f}x faster at p95")
    finally:
        if args.keep:
            print(f"kept: data dir {backend.tmp}, PostgreSQL schema {backend.schema}")
        else:
            backend.teardown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
