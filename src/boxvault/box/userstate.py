"""What one user's backup run holds while it goes (the parts of `UserBackup` share it), and the helpers
the per-user run, the walk and the content store all need. Split out of box/backup.py (issue 10)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from box_sdk_gen.client import BoxClient

from boxvault.box.catalog import Catalog, CatalogEntry
from boxvault.box.connect import BoxConnection
from boxvault.box.content import ContentStore
from boxvault.box.converge import Proof
from boxvault.box.extras import metadata_fields
from boxvault.box.model import BoxItem
from boxvault.box.placement import Placements
from boxvault.box.progress import Progress
from boxvault.box.report import UserReport
from boxvault.box.spool import Spool
from boxvault.box.state import StateStore
from boxvault.box.users import BoxUser
from boxvault.box.versions import OldVersion
from boxvault.engine.builder import NodeMeta
from boxvault.engine.repository import Repository
from boxvault.engine.tree import Node
from boxvault.engine.writer import Writer


class RootUnavailable(Exception):
    """The user's folder 0 could not be listed."""


@dataclass
class BackupOptions:
    enterprise_id: str
    task_id: str = "cli"
    list_workers: int = 4
    download_workers: int = 4
    user_workers: int = 2
    metadata: bool = True  # capture metadata instances (one request per new/changed item)
    versions: bool = False  # also keep Box's previous versions of each file
    trash: bool = True  # keep what is in the user's Box trash, as the previous snapshot held it (trash.py)
    use_events: bool = True  # skip users whose events stream shows no change since their last snapshot
    full_walk_days: float = 7.0  # but list everything at least this often (what events do not report)
    refresh_extras: bool = False  # ask for every item's collaborations/comments/metadata again
    checkpoint_seconds: float = 30.0
    checkpoint_bytes: int = 256 * 2**20  # and after this much new packed data, whichever comes first
    clear_stale_locks: bool = True  # remove stale locks (as `restic unlock`) before the run
    verify_attempts: int = 3  # downloads whose sha1 does not match are tried this many times in all
    should_stop: Callable[[], bool] | None = None

    @property
    def hostname(self) -> str:
        return f"box-{self.enterprise_id}"


def user_tags(box_user_id: str, task_id: str) -> list[str]:
    return ["box", f"user:{box_user_id}", f"task:{task_id}"]


def _node_meta(mtime: datetime, ctime: datetime | None, xattrs: dict[str, bytes]) -> NodeMeta:
    return NodeMeta(mtime=mtime, ctime=ctime, extended_attributes=xattrs)


def _catalog_entry(item: BoxItem) -> CatalogEntry:
    return CatalogEntry(
        item_id=item.id,
        item_type=item.type,
        path=item.path,
        name=item.name,
        version_id=item.version_id,
        sha1=item.sha1,
        etag=item.etag,
        size=item.size,
        created_by=item.created_by,
        modified_by=item.modified_by,
        owned_by=item.owned_by,
        created_at=item.created_at,
        modified_at=item.modified_at,
        content_modified_at=item.content_modified_at,
    )


class TemplateFields:
    """The `metadata.<scope>.<templateKey>` listing fields, asked for once per run when first needed."""

    def __init__(self, client: BoxClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._asked = False
        self._fields: list[str] | None = None

    def get(self) -> tuple[list[str] | None, int]:
        """(fields or None to ask per item, requests made by this call)."""
        with self._lock:
            if self._asked:
                return self._fields, 0
            self._asked = True
            try:
                self._fields, pages = metadata_fields(self.client)
            except Exception:  # noqa: BLE001 - no templates API (or no right to it): metadata per item
                return None, 1
            return self._fields, pages


class UserState:
    """One user's run: its connection, repository, writer, report, catalog rows and placements."""

    def __init__(
        self,
        conn: BoxConnection,
        repo: Repository,
        writer: Writer,
        user: BoxUser,
        options: BackupOptions,
        content: ContentStore,
        catalog: Catalog,
        state: StateStore,
        progress: Progress,
    ) -> None:
        self.conn = conn
        self.repo = repo
        self.writer = writer
        self.user = user
        self.options = options
        self.content = content
        self.catalog = catalog
        self.state = state
        self.progress = progress
        self.client = conn.as_user(user.id)
        self.scope = options.enterprise_id
        self.report = UserReport(box_user_id=user.id, login=user.login)
        self.root = "/" + user.login
        self._lock = threading.Lock()
        self._entries = Spool()  # CatalogEntry values, written to the catalog after the commit
        self._extras_rows: list[tuple[str, str, dict[str, bytes]]] = []
        self._versions_rows: list[tuple[str, str, list[OldVersion]]] = []
        self.parent: str | None = None  # the user's previous snapshot
        # `metadata.<scope>.<template>` fields asked for in listings (None: metadata asked per item)
        self.metadata_fields: list[str] | None = None
        self.template_fields: TemplateFields | None = None
        self.placements = Placements()  # one Box item, one place (placement.py)
        self._due_events: list[dict[str, Any]] | None = None  # a scheduled full walk's events (converge.py)
        self._proof: Proof | None = None
        self._gone: list[str] = []  # folders Box answered 404 for while the run listed them

    def _load_tree(self, tree_id: bytes) -> list[Node]:
        """A tree of an earlier snapshot or of this run: one a finished folder just wrote may still wait
        in the writer's open pack, so that is uploaded first."""
        if not self.repo.has_blob(tree_id, "tree"):
            self.writer.flush()
        return self.repo.load_tree(tree_id)

    def _stopping(self) -> bool:
        return self.options.should_stop is not None and self.options.should_stop()

    def _path(self, item: BoxItem) -> str:
        return f"{self.root}/{item.path}"

    def _done(self, item: BoxItem, reused: bool = False, downloaded: int = 0) -> None:
        with self._lock:
            self._entries.append(_catalog_entry(item).values())
            if item.type != "folder":
                self.report.files += 1
                self.report.bytes += item.size
                if item.type == "web_link":
                    self.report.web_links += 1
                if reused:
                    self.report.reused += 1
                if downloaded:
                    self.report.downloaded += 1
                    self.report.downloaded_bytes += downloaded
        self.progress.done(1, item.size if item.type == "file" else 0, downloaded)

    def _dropped(self, e: CatalogEntry) -> None:
        """A row of a place taken back (placement.py): it no longer counts."""
        with self._lock:
            if e.item_type == "folder":
                self.report.folders -= 1
            elif e.item_type != "file_version":
                self.report.files -= 1
                self.report.bytes -= e.size
                self.report.web_links -= e.item_type == "web_link"

    def _count_reused(self, e: CatalogEntry) -> None:
        """A row taken over from the parent snapshot, in the report (under `_lock` while threads run)."""
        if e.item_type == "folder":
            self.report.folders += 1
        elif e.item_type.startswith("trashed_"):
            self.report.trashed += 1
        elif e.item_type == "file_version":
            self.report.versions += 1
        else:
            self.report.files += 1
            self.report.bytes += e.size
            self.report.reused += e.item_type == "file"
            self.report.web_links += e.item_type == "web_link"

    def _reused_entry(self, e: CatalogEntry) -> None:
        self.placements.add(e.item_id, e.item_type, e.path, e.name)
        with self._lock:
            self._entries.append(e.values())
            self._count_reused(e)
        size = e.size if e.item_type == "file" else 0
        self.progress.found(1, size)
        self.progress.done(1, size)
