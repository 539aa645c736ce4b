"""Generate an enterprise deterministically from a seed: an admin, N users with M files each.

Seeded file content is generated (see content.py), never stored: only its size, SHA-1 and key are kept.
Rows are written in bulk without events, as if the content had been there before the event stream began.
"""

from __future__ import annotations

import math
import os
import random
import string
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import content
from .names import file_name, folder_name, person, unique
from .store import Store, now_iso

EPOCH = datetime(2023, 1, 2, 9, 0, 0, tzinfo=UTC)
CONTENT_TABLES = (
    "users",
    "apps",
    "tokens",
    "auth_codes",
    "items",
    "versions",
    "collaborations",
    "groups",
    "group_memberships",
    "metadata_templates",
    "metadata",
    "comments",
    "events",
    "upload_sessions",
    "upload_parts",
    "jwt_ids",
)
ASCII_FOLD = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "đ": "d", "ł": "l"})
PARALLEL_BYTES = 512 * 1024 * 1024
LARGE_SIZE = 62 * 1024 * 1024 + 12345


@dataclass
class SeedOptions:
    users: int = 3
    files_per_user: int = 50
    seed: int = 1
    large_files: int = 1
    large_size: int = LARGE_SIZE
    max_small_size: int = 4 * 1024 * 1024


@dataclass
class _Ctx:
    store: Store
    rng: random.Random
    opts: SeedOptions
    file_rows: list[tuple[Any, ...]] = field(default_factory=list)
    version_rows: list[tuple[Any, ...]] = field(default_factory=list)
    # ids as large as real Box ids (beyond 32 bits), so a client storing them in an int32 fails here
    next_item: int = 900_000_000_001
    next_version: int = 1_500_000_000_001
    file_index: int = 0


def _ts(rng: random.Random, after: datetime = EPOCH, days: int = 600) -> datetime:
    return after + timedelta(seconds=rng.randint(0, days * 86400))


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _token(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _size(ctx: _Ctx) -> int:
    rng = ctx.rng
    if rng.random() < 0.04:
        return 0
    # log-normal around 24 KiB: most files are small, a few reach megabytes
    return min(ctx.opts.max_small_size, int(rng.lognormvariate(math.log(24 * 1024), 1.6)))


def _add_file(ctx: _Ctx, parent: int, owner: int, name: str, size: int, versions: int) -> int:
    item_id = ctx.next_item
    ctx.next_item += 1
    ctx.file_index += 1
    created = _ts(ctx.rng)
    version_id = 0
    for n in range(1, versions + 1):
        vsize = size if n == versions else _size(ctx)
        ref = f"seed:{ctx.opts.seed}:{ctx.file_index}:{n}"
        sha1 = ""  # computed in bulk by _flush, in parallel for big seeds
        version_id = ctx.next_version
        ctx.next_version += 1
        vtime = _iso(created + timedelta(hours=n - 1))
        ctx.version_rows.append((version_id, item_id, n, name, vsize, sha1, "gen", ref, vtime, owner))
    modified = _iso(created + timedelta(hours=versions - 1))
    content_created = _iso(created - timedelta(days=ctx.rng.randint(0, 400)))
    ctx.file_rows.append(
        (
            item_id,
            "file",
            name,
            name.casefold(),
            parent,
            owner,
            owner,
            owner,
            _iso(created),
            modified,
            content_created,
            modified,
            version_id,
        )
    )
    return item_id


def _add_folder(ctx: _Ctx, parent: int, owner: int, name: str) -> int:
    item_id = ctx.next_item
    ctx.next_item += 1
    ts = _iso(_ts(ctx.rng))
    ctx.file_rows.append(
        (item_id, "folder", name, name.casefold(), parent, owner, owner, owner, ts, ts, ts, ts, None)
    )
    return item_id


def _user_tree(ctx: _Ctx, owner: int, files: int, large: int) -> list[int]:
    """Folders of realistic depth and width holding `files` files; returns the top-level folder ids."""
    rng = ctx.rng
    folders: list[tuple[int, int]] = [(0, 0)]  # (folder id, depth)
    names: dict[int, set[str]] = {0: set()}
    top: list[int] = []
    n_folders = max(1, files // 8)
    for _ in range(n_folders):
        parent, depth = rng.choice(folders)
        if depth >= 6:
            parent, depth = 0, 0
        folder_id = _add_folder(ctx, parent, owner, unique(folder_name(rng), names[parent]))
        names[folder_id] = set()
        folders.append((folder_id, depth + 1))
        if parent == 0:
            top.append(folder_id)
    for i in range(files):
        parent, _ = rng.choice(folders)
        size = ctx.opts.large_size + rng.randint(0, 1 << 20) if i < large else _size(ctx)
        versions = 1 if rng.random() > 0.12 else rng.randint(2, 4)
        _add_file(ctx, parent, owner, unique(file_name(rng), names[parent]), size, versions)
    return top


def seed(store: Store, opts: SeedOptions) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    now = now_iso()
    with store.tx():
        for table in CONTENT_TABLES:
            store.db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names  # nosec B608
        store.db.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
        enterprise_id = str(rng.randint(10_000_000, 99_999_999))
        client_id = _token(rng, 32)
        client_secret = _token(rng, 32)
        store.set_setting("enterprise_id", enterprise_id)
        store.set_setting("seed", str(opts.seed))
        users: list[dict[str, Any]] = []
        service_id = 1000
        store.db.execute(
            "INSERT INTO users (id, login, name, role, kind, is_service, created_at, modified_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                service_id,
                f"AutomationUser_{rng.randint(100000, 999999)}_{_token(rng, 10)}@boxdevedition.com",
                "Sandbox Backup App",
                "user",
                "app",
                1,
                now,
                now,
            ),
        )
        store.db.execute(
            "INSERT INTO apps (client_id, client_secret, name, service_user_id, redirect_uris) "
            "VALUES (?,?,?,?,?)",
            (client_id, client_secret, "boxvault sandbox app", service_id, "[]"),
        )
        for i in range(opts.users + 1):
            first, last = person(rng)
            # logins stay ASCII like most real e-mail addresses; display names keep their accents
            ascii_name = (
                unicodedata.normalize("NFKD", f"{first}.{last}".translate(ASCII_FOLD))
                .encode("ascii", "ignore")
                .decode()
            )
            login = f"{ascii_name}.{i}".lower().replace("'", "")
            user_id = 2_000_000 + i * 1111
            name = f"{first} {last}"
            role = "admin" if i == 0 else "user"
            store.db.execute(
                "INSERT INTO users (id, login, name, role, created_at, modified_at) VALUES (?,?,?,?,?,?)",
                (user_id, f"{login}@sandbox-{enterprise_id}.example.com", name, role, now, now),
            )
            users.append(
                {
                    "id": str(user_id),
                    "login": f"{login}@sandbox-{enterprise_id}.example.com",
                    "name": name,
                    "role": role,
                }
            )
        ctx = _Ctx(store, rng, opts)
        tops: list[list[int]] = []
        for i, user in enumerate(users):
            files = opts.files_per_user if i > 0 else max(1, opts.files_per_user // 4)
            large = opts.large_files if i == 1 or (opts.users == 0 and i == 0) else 0
            tops.append(_user_tree(ctx, int(user["id"]), files, large))
            if len(ctx.file_rows) > 20000:
                _flush(ctx)
        _flush(ctx)
        shared = 0
        regular = users[1:]
        for i, user in enumerate(regular):
            if len(regular) < 2 or not tops[i + 1]:
                continue
            other = regular[(i + 1) % len(regular)]
            folder = tops[i + 1][0]
            store.db.execute(
                "INSERT INTO collaborations (item_id, user_id, role, created_by, created_at, modified_at) "
                "VALUES (?,?,?,?,?,?)",
                (folder, int(other["id"]), "editor", int(user["id"]), now, now),
            )
            shared += 1
        stats = store.one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(v.size), 0) AS bytes FROM items i "
            "JOIN versions v ON v.id = i.version_id WHERE i.type = 'file'"
        )
        folders = store.scalar("SELECT COUNT(*) FROM items WHERE type = 'folder'")
    return {
        "seed": opts.seed,
        "client_id": client_id,
        "client_secret": client_secret,
        "enterprise_id": enterprise_id,
        "admin_user_id": users[0]["id"],
        "service_account_id": str(service_id),
        "users": [{k: u[k] for k in ("id", "login", "name")} for u in users[1:]],
        "files": int(stats["n"]) if stats else 0,
        "bytes": int(stats["bytes"]) if stats else 0,
        "folders": int(folders or 0),
        "shared_folders": shared,
    }


def _sha1_job(job: tuple[str, int]) -> str:
    return content.generated_sha1(job[0], job[1])


def _hash_all(jobs: list[tuple[str, int]]) -> list[str]:
    """SHA-1 of generated contents; a process per core when there is enough to hash (the order is kept)."""
    workers = os.cpu_count() or 1
    if workers < 2 or sum(size for _, size in jobs) < PARALLEL_BYTES:
        return [_sha1_job(job) for job in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_sha1_job, jobs, chunksize=64))


def _flush(ctx: _Ctx) -> None:
    digests = _hash_all([(str(row[7]), int(row[4])) for row in ctx.version_rows])
    ctx.version_rows = [
        (*row[:5], sha1, *row[6:]) for row, sha1 in zip(ctx.version_rows, digests, strict=True)
    ]
    ctx.store.db.executemany(
        """INSERT INTO items (id, type, name, name_key, parent_id, owner_id, created_by, modified_by,
           created_at,
           modified_at, content_created_at, content_modified_at, version_id) VALUES
               (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        ctx.file_rows,
    )
    ctx.store.db.executemany(
        """INSERT INTO versions (id, file_id, number, name, size, sha1, source, ref, created_at, modified_by)
           VALUES (?,?,?,?,?,?,?,?,?,?)""",
        ctx.version_rows,
    )
    ctx.file_rows.clear()
    ctx.version_rows.clear()


def credentials(store: Store) -> dict[str, Any]:
    """What a client needs to connect to an already seeded sandbox."""
    app = store.one("SELECT * FROM apps ORDER BY rowid LIMIT 1")
    admin = store.one("SELECT * FROM users WHERE role = 'admin' AND deleted = 0 ORDER BY id LIMIT 1")
    users = store.all(
        "SELECT * FROM users WHERE role != 'admin' AND is_service = 0 AND deleted = 0 ORDER BY id"
    )
    return {
        "client_id": app["client_id"] if app else None,
        "client_secret": app["client_secret"] if app else None,
        "enterprise_id": store.setting("enterprise_id"),
        "admin_user_id": str(admin["id"]) if admin else None,
        "service_account_id": str(app["service_user_id"]) if app else None,
        "users": [{"id": str(u["id"]), "login": u["login"], "name": u["name"]} for u in users],
    }
