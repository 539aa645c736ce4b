"""Backups while Box changes (issue 20): run `run_backup` in this process against a sandbox served over a
real socket, and apply changes to the sandbox's store *between two folder listings* of the run.

The truth the snapshots are compared with is computed here, independently of the connector: the user's
tree as the sandbox's own tables hold it (own items from the root, plus the folders and files shared with
the user), recorded before the run and after every change, so "a path the item had at some moment of
the run" can be checked.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxvault.box import api
from boxvault.box.backup import BackupOptions, run_backup
from boxvault.box.blobcache import BlobCache
from boxvault.box.catalog import SqliteCatalog
from boxvault.box.connect import CCGCredentials, Limits, connect
from boxvault.box.report import UserReport
from boxvault.box.state import StateStore
from boxvault.engine.repository import Repository
from boxvault.engine.storage import open_backend
from boxvault.sandbox import content, items
from boxvault.sandbox.routes.copies import _copy_file, _copy_tree
from boxvault.sandbox.store import Store
from support.sandbox import SandboxServer

PASSWORD = "converge-test-password"
View = dict[str, tuple[str, str, str | None]]  # id -> (type, path, sha1)


def user_view(store: Store, user_id: int) -> View:
    """The user's All Files as the sandbox's tables hold it (what Box shows the user)."""
    live = "purged = 0 AND trashed_at IS NULL"
    roots = store.all(f"SELECT * FROM items WHERE parent_id = 0 AND owner_id = ? AND {live}", user_id)
    shared = store.all(
        f"SELECT i.* FROM items i JOIN collaborations c ON c.item_id = i.id "
        f"WHERE c.user_id = ? AND c.status = 'accepted' AND i.owner_id != ? AND {live}",
        user_id,
        user_id,
    )
    out: View = {}
    todo: list[tuple[Any, str]] = []
    for row in [*roots, *shared]:
        if row["id"] in {int(k) for k in out} or items.ancestors_trashed(store, row):
            continue
        todo.append((row, row["name"]))
        while todo:
            r, path = todo.pop()
            sha1 = None
            if r["type"] == "file":
                sha1 = store.scalar("SELECT sha1 FROM versions WHERE id = ?", r["version_id"])
            out[str(r["id"])] = (str(r["type"]), path, sha1)
            if r["type"] == "folder":
                for c in store.all(f"SELECT * FROM items WHERE parent_id = ? AND {live}", r["id"]):
                    todo.append((c, f"{path}/{c['name']}"))
    return out


def versions_sha1(store: Store, file_id: str) -> set[str]:
    return {r[0] for r in store.db.execute("SELECT sha1 FROM versions WHERE file_id = ?", (int(file_id),))}


@dataclass
class Stored:
    """One snapshot as the repository holds it: id -> [(type, path, sha1 of the node's bytes, box.sha1)]."""

    snapshot_id: str
    places: dict[str, list[tuple[str, str, str | None, str | None]]] = field(default_factory=dict)

    def view(self) -> View:
        return {k: (v[0][0], v[0][1], v[0][3]) for k, v in self.places.items()}


def read_snapshot(repo_path: Path, snapshot_id: str, login: str) -> Stored:
    repo = Repository.open(open_backend(str(repo_path)), PASSWORD)
    try:
        snap = repo.find_snapshot(snapshot_id)
        out = Stored(snapshot_id)
        prefix = f"/{login}/"
        # a node whose name had to differ from Box's (a sibling held it: "<name> (box <id>)") keeps Box's
        # in `box.name`; paths are compared in Box's names, as the user's view in the sandbox has them
        box_paths: dict[str, str] = {}
        for path, node in repo.walk(snap):
            attrs = dict(node.extended_attributes)
            kind = attrs.get("box.type", b"").decode()
            parent = path.rpartition("/")[0]
            name = attrs["box.name"].decode() if "box.name" in attrs else node.name
            box_paths[path] = f"{box_paths.get(parent, parent)}/{name}"
            if kind not in ("file", "folder", "web_link") or not path.startswith(prefix):
                continue
            if path.startswith(f"{prefix}.box-trash/"):
                continue  # the trash as last backed up (test_trash.py), not the live tree converging
            digest = None
            if kind == "file":
                h = hashlib.sha1(usedforsecurity=False)
                for blob in node.content or []:
                    h.update(repo.load_blob(blob))
                digest = h.hexdigest()
            box_sha1 = attrs["box.sha1"].decode() if "box.sha1" in attrs else None
            out.places.setdefault(attrs["box.id"].decode(), []).append(
                (kind, box_paths[path][len(prefix) :], digest, box_sha1)
            )
        return out
    finally:
        repo.close()


class Changer:
    """Random changes to the Box of `owners`, applied straight to the sandbox's store (the server reads
    it on every request); each change is drawn from integers, so any draw applies to any state."""

    KINDS = (
        "move_file",
        "move_folder",
        "rename_file",
        "rename_folder",
        "trash_file",
        "trash_folder",
        "restore",
        "delete",
        "new_version",
        "new_file",
        "new_folder",
        "copy_file",
        "copy_folder",
        "swap_names",
        "case_rename",
    )

    def __init__(self, store: Store, owners: list[int]) -> None:
        self.store = store
        self.owners = owners
        self.counter = 0
        self.lock = threading.Lock()
        self.applied: list[str] = []

    def _live(self, kind: str) -> list[Any]:
        rows = self.store.all(
            "SELECT * FROM items WHERE type = ? AND purged = 0 AND trashed_at IS NULL "
            f"AND owner_id IN ({','.join('?' * len(self.owners))}) ORDER BY id",
            kind,
            *self.owners,
        )
        return [r for r in rows if not items.ancestors_trashed(self.store, r)]

    def _name(self, tag: str) -> str:
        self.counter += 1
        return f"{tag}-{self.counter}"

    def apply(self, kind: str, a: int, b: int) -> None:
        with self.lock:
            try:
                done = self._apply(kind, a, b)
            except items.BoxError:
                done = None  # refused as Box would (a name taken, a cycle): no change
            if done:
                self.applied.append(done)

    def _apply(self, kind: str, a: int, b: int) -> str | None:
        s = self.store
        files, folders = self._live("file"), self._live("folder")
        if kind in ("move_file", "rename_file", "trash_file", "delete", "new_version", "copy_file"):
            if not files:
                return None
            row = files[a % len(files)]
        elif kind in ("move_folder", "rename_folder", "trash_folder", "copy_folder", "case_rename"):
            if not folders:
                return None
            row = folders[a % len(folders)]
        else:
            row = None
        actor = int(row["owner_id"]) if row is not None else self.owners[a % len(self.owners)]
        mine = [f for f in folders if int(f["owner_id"]) == actor]
        target = mine[b % len(mine)] if mine and b % 5 else None  # sometimes the owner's root
        parent = (int(target["id"]), actor) if target is not None else (0, actor)
        if kind in ("move_file", "move_folder"):
            assert row is not None
            items.update(s, row, actor, parent=parent)
        elif kind in ("rename_file", "rename_folder"):
            assert row is not None
            items.update(s, row, actor, name=self._name("renamed"))
        elif kind == "case_rename":
            assert row is not None
            items.update(s, row, actor, name=str(row["name"]).swapcase())
        elif kind in ("trash_file", "trash_folder"):
            assert row is not None
            items.trash(s, row, actor)
        elif kind == "restore":
            trashed = s.all("SELECT * FROM items WHERE trashed_at IS NOT NULL AND purged = 0 ORDER BY id")
            if not trashed:
                return None
            row = trashed[a % len(trashed)]
            items.restore(s, row, int(row["owner_id"]), None, None)
        elif kind == "delete":
            assert row is not None
            items.trash(s, row, actor)
            fresh = s.item(int(row["id"]))
            assert fresh is not None
            items.purge(s, fresh, actor)
        elif kind == "new_version":
            assert row is not None
            ref = f"converge:{row['id']}:{self._name('v')}"
            size = 1000 + b % 5000
            items.new_version(s, row, actor, (size, content.generated_sha1(ref, size), "gen", ref))
        elif kind == "new_file":
            ref = f"converge:new:{self._name('f')}"
            size = b % 3000
            items.create_file(
                s,
                parent[0],
                actor,
                actor,
                self._name("new"),
                (size, content.generated_sha1(ref, size), "gen", ref),
            )
        elif kind == "new_folder":
            items.create_folder(s, parent[0], actor, actor, self._name("folder"))
        elif kind == "copy_file":
            assert row is not None
            version = s.one("SELECT * FROM versions WHERE id = ?", row["version_id"])
            assert version is not None
            _copy_file(s, row, parent, actor, self._name("copy"), version)
        elif kind == "copy_folder":
            assert row is not None
            if parent[0] and items.is_descendant(s, parent[0], int(row["id"])):
                return None
            with s.tx():
                _copy_tree(s, row, parent, actor, self._name("copied"))
        elif kind == "swap_names":
            if len(files) < 2:
                return None
            x, y = files[a % len(files)], files[b % len(files)]
            if x["id"] == y["id"] or x["parent_id"] != y["parent_id"]:
                return None
            items.update(s, x, int(x["owner_id"]), name=self._name("swap"))
            fx, fy = s.item(int(x["id"])), s.item(int(y["id"]))
            assert fx is not None and fy is not None
            items.update(s, fy, int(fy["owner_id"]), name=str(x["name"]))
            items.update(s, fx, int(fx["owner_id"]), name=str(y["name"]))
        return f"{kind}({a},{b})"


@dataclass
class Harness:
    sandbox: SandboxServer
    home: Path
    user: dict[str, str]
    store: Store = field(init=False)
    repo_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store(self.sandbox.data_dir)
        self.repo_path = self.home / "repo"
        Repository.init(open_backend(str(self.repo_path)), PASSWORD).close()
        self.conn = connect(
            CCGCredentials(self.sandbox.client_id, self.sandbox.client_secret, self.sandbox.enterprise_id),
            api_url=self.sandbox.url,
            limits=Limits(per_user_rps=0, retry_base_interval=0.05),
        )

    @property
    def user_id(self) -> int:
        return int(self.user["id"])

    def view(self) -> View:
        return user_view(self.store, self.user_id)

    def backup(
        self,
        *,
        full_walk: bool = False,
        full_walk_days: float = 7.0,
        before_listing: Callable[[int], None] | None = None,
    ) -> UserReport:
        """One run for the user; `before_listing(n)` runs before the n-th folder listing request."""
        repo = Repository.open(open_backend(str(self.repo_path)), PASSWORD)
        state = StateStore(self.home / "state.sqlite")
        catalog = SqliteCatalog(self.home / "catalog.sqlite")
        cache = BlobCache(self.home / "blobcache.sqlite", repo.id)
        options = BackupOptions(
            enterprise_id=self.sandbox.enterprise_id,
            list_workers=1,
            download_workers=2,
            use_events=not full_walk,
            full_walk_days=full_walk_days,
            checkpoint_seconds=0,
        )
        try:
            with listing_hook(before_listing):
                report = run_backup(
                    self.conn,
                    repo,
                    options=options,
                    catalog=catalog,
                    state=state,
                    cache=cache,
                    user_ids=[self.user["id"]],
                )
        finally:
            cache.close()
            catalog.close()
            state.close()
            repo.close()
        (user,) = report.users
        assert user.snapshot_id, user
        return user

    def stored(self, report: UserReport) -> Stored:
        assert report.snapshot_id is not None
        return read_snapshot(self.repo_path, report.snapshot_id, self.user["login"])


@contextmanager
def listing_hook(before: Callable[[int], None] | None) -> Iterator[None]:
    """Calls `before(n)` ahead of the n-th folder listing request the connector sends (marker pages of
    `GET /2.0/folders/{id}/items`), in the listing thread: the change lands between two listings."""
    if before is None:
        yield
        return
    original = api.get_json
    count = [0]
    lock = threading.Lock()

    def hooked(client: Any, path: str, params: Any = None) -> dict[str, Any]:
        if path.startswith("/2.0/folders/") and path.endswith("/items"):
            with lock:
                count[0] += 1
                n = count[0]
            before(n)
        return original(client, path, params)

    api.get_json = hooked  # type: ignore[assignment]
    try:
        yield
    finally:
        api.get_json = original  # type: ignore[assignment]


def check_during(store: Store, stored: Stored, seen: dict[str, set[str]]) -> list[str]:
    """(a): each id at most once, at a path it had at some moment of the run, with the bytes of one of its
    versions. Returns the problems found."""
    problems: list[str] = []
    for item_id, places in stored.places.items():
        if len(places) > 1:
            problems.append(f"{item_id} stored {len(places)} times: {[p[1] for p in places]}")
        for kind, path, digest, box_sha1 in places:
            if path not in seen.get(item_id, set()):
                problems.append(f"{item_id} at {path!r}, never its path during the run: {seen.get(item_id)}")
            if kind == "file":
                shas = versions_sha1(store, item_id)
                if digest not in shas or box_sha1 != digest:
                    problems.append(f"{item_id} content {digest} (box.sha1 {box_sha1}) not one of {shas}")
    return problems


def record(seen: dict[str, set[str]], view: View) -> None:
    for item_id, (_kind, path, _sha1) in view.items():
        seen.setdefault(item_id, set()).add(path)


def random_schedule(rng: random.Random, changes: int, listings: int) -> list[tuple[int, str, int, int]]:
    return sorted(
        (rng.randrange(1, listings + 1), rng.choice(Changer.KINDS), rng.randrange(1000), rng.randrange(1000))
        for _ in range(changes)
    )


def converge_round(h: Harness, schedule: list[tuple[int, str, int, int]], full_walk: bool) -> list[str]:
    """One round of the property: a backup with `schedule` applied between its listings (a scheduled
    full walk or an incremental run), then (a), (b) and (c). Returns the problems found."""
    owners = sorted({int(h.sandbox.users[0]["id"]), h.user_id})
    changer = Changer(h.store, owners)
    seen: dict[str, set[str]] = {}
    record(seen, h.view())

    def before_listing(n: int) -> None:
        for at, kind, a, b in schedule:
            if at == n:
                changer.apply(kind, a, b)
                with changer.lock:
                    record(seen, user_view(h.store, h.user_id))

    # a scheduled full walk (due at every run with 0 days) or an incremental run
    during = h.backup(full_walk_days=0 if full_walk else 7.0, before_listing=before_listing)
    # changes scheduled after the last listing land before the run ends (still "during" it)
    before_listing(10**6)
    problems = [f"(a) {p}" for p in check_during(h.store, h.stored(during), seen)]
    if during.divergent:
        problems.append(f"full walk: {during.divergent} divergent: {during.divergent_items}")
    after = h.backup()
    truth = h.view()
    got = h.stored(after).view()
    if got != truth:
        diff = {k: (got.get(k), truth.get(k)) for k in set(got) | set(truth) if got.get(k) != truth.get(k)}
        problems.append(f"(b) the next snapshot differs from Box: {diff}")
    if after.failed:
        problems.append(f"(b) failures: {after.failures}")
    quiet = h.backup()
    if quiet.downloaded or quiet.failed:
        problems.append(f"(c) a run without change downloaded {quiet.downloaded}, failed {quiet.failures}")
    if h.stored(quiet).view() != truth:
        problems.append("(c) the no-change snapshot differs from Box")
    return [f"{changer.applied}: {p}" for p in problems]
