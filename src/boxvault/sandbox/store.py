"""State of the sandbox: one SQLite database (WAL mode) plus uploaded content files in a data directory.

WAL lets `boxvault sandbox seed|mutate --data DIR` write while `serve` runs on the same directory: every
request reads the database afresh, so the server sees the changes without a restart.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'user',
    status TEXT NOT NULL DEFAULT 'active', kind TEXT NOT NULL DEFAULT 'managed', is_service INTEGER NOT
        NULL DEFAULT 0,
    created_at TEXT NOT NULL, modified_at TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS apps (
    client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, name TEXT NOT NULL, service_user_id INTEGER
        NOT NULL,
    public_key_id TEXT, public_key TEXT, redirect_uris TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, kind TEXT NOT NULL, client_id TEXT NOT NULL, user_id INTEGER NOT NULL,
    expires_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, used INTEGER NOT NULL DEFAULT 0,
    pair TEXT
);
CREATE TABLE IF NOT EXISTS auth_codes (
    code TEXT PRIMARY KEY, client_id TEXT NOT NULL, user_id INTEGER NOT NULL, redirect_uri TEXT,
    expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, name_key TEXT NOT NULL,
    parent_id INTEGER NOT NULL, owner_id INTEGER NOT NULL, created_by INTEGER NOT NULL, modified_by
        INTEGER NOT NULL,
    created_at TEXT NOT NULL, modified_at TEXT NOT NULL, content_created_at TEXT, content_modified_at TEXT,
    description TEXT NOT NULL DEFAULT '', sequence_id INTEGER NOT NULL DEFAULT 0,
    trashed_at TEXT, trashed_by INTEGER, purged INTEGER NOT NULL DEFAULT 0,
    version_id INTEGER, url TEXT, shared_link TEXT
);
CREATE INDEX IF NOT EXISTS items_parent ON items (parent_id, owner_id, name_key);
CREATE INDEX IF NOT EXISTS items_owner ON items (owner_id, type);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL,
    size INTEGER NOT NULL, sha1 TEXT NOT NULL, source TEXT NOT NULL, ref TEXT NOT NULL,
    created_at TEXT NOT NULL, modified_by INTEGER NOT NULL, trashed_at TEXT, trashed_by INTEGER
);
CREATE INDEX IF NOT EXISTS versions_file ON versions (file_id, id);
CREATE TABLE IF NOT EXISTS collaborations (
    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, user_id INTEGER NOT NULL, role TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'accepted', created_by INTEGER NOT NULL, created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS collaborations_user ON collaborations (user_id, item_id);
CREATE INDEX IF NOT EXISTS collaborations_item ON collaborations (item_id);
CREATE TABLE IF NOT EXISTS metadata_templates (
    scope TEXT NOT NULL, template_key TEXT NOT NULL, id TEXT NOT NULL, display_name TEXT NOT NULL,
    hidden INTEGER NOT NULL DEFAULT 0, copy_on_copy INTEGER NOT NULL DEFAULT 0, fields TEXT NOT NULL,
    PRIMARY KEY (scope, template_key)
);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL, modified_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS group_memberships (
    id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
    role TEXT NOT NULL DEFAULT 'member', created_at TEXT NOT NULL, UNIQUE (group_id, user_id)
);
CREATE TABLE IF NOT EXISTS metadata (
    item_id INTEGER NOT NULL, scope TEXT NOT NULL, template TEXT NOT NULL, id TEXT NOT NULL, data TEXT
        NOT NULL,
    version INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (item_id, scope, template)
);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, message TEXT NOT NULL, created_by INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, event_type TEXT NOT NULL, user_id
        INTEGER NOT NULL,
    created_by INTEGER NOT NULL, created_at TEXT NOT NULL, source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_user ON events (user_id, id);
CREATE TABLE IF NOT EXISTS jwt_ids (jti TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS upload_sessions (
    id TEXT PRIMARY KEY, folder_id INTEGER NOT NULL, file_id INTEGER, file_name TEXT NOT NULL,
    total_size INTEGER NOT NULL, part_size INTEGER NOT NULL, user_id INTEGER NOT NULL, expires_at TEXT
        NOT NULL
);
CREATE TABLE IF NOT EXISTS upload_parts (
    session_id TEXT NOT NULL, part_id TEXT NOT NULL, offset INTEGER NOT NULL, size INTEGER NOT NULL,
    sha1 TEXT NOT NULL, PRIMARY KEY (session_id, offset)
);
"""

Row = sqlite3.Row


def is_id(text: str) -> bool:
    """Box ids are ASCII digit strings; `str.isdigit` alone also accepts '²' or '١', which `int` refuses."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def now_iso(ts: float | None = None) -> str:
    """Box's timestamp format: RFC 3339 with an explicit offset and whole seconds."""
    dt = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def normalize_time(value: str) -> str:
    """Parses an RFC 3339 timestamp and renders it as Box does (seconds precision); raises ValueError."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return text[:-2] + ":" + text[-2:]


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "blobs").mkdir(exist_ok=True)
        (data_dir / "sessions").mkdir(exist_ok=True)
        (data_dir / "tmp").mkdir(exist_ok=True)
        self.db = sqlite3.connect(
            data_dir / "sandbox.sqlite3", isolation_level=None, check_same_thread=False, timeout=30
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Adds columns that came after a data directory was created (CREATE TABLE IF NOT EXISTS keeps it)."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(versions)")}
        if "trashed_at" not in columns:
            self.db.execute("ALTER TABLE versions ADD COLUMN trashed_at TEXT")
            self.db.execute("ALTER TABLE versions ADD COLUMN trashed_by INTEGER")
        # a group collaboration: group_id set, user_id 0
        if "group_id" not in {row[1] for row in self.db.execute("PRAGMA table_info(collaborations)")}:
            self.db.execute("ALTER TABLE collaborations ADD COLUMN group_id INTEGER")
        # who may see what through collaborations: a user's own, and their groups' for each member
        self.db.execute(
            """CREATE VIEW IF NOT EXISTS grants AS
               SELECT item_id, user_id, role, status FROM collaborations WHERE group_id IS NULL
               UNION ALL
               SELECT c.item_id, m.user_id, c.role, c.status FROM collaborations c
               JOIN group_memberships m ON m.group_id = c.group_id WHERE c.group_id IS NOT NULL"""
        )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so a concurrent seed/mutate process waits instead
        # of failing half-way with SQLITE_BUSY on lock upgrade.
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def one(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = self.db.execute(sql, args).fetchone()
        return row

    def all(self, sql: str, *args: Any) -> list[Row]:
        return list(self.db.execute(sql, args).fetchall())

    def scalar(self, sql: str, *args: Any) -> Any:
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    def setting(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM settings WHERE key = ?", key)
        return default if value is None else str(value)

    def set_setting(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    def user(self, user_id: int) -> Row | None:
        if not 0 <= user_id < 1 << 62:
            return None  # ids beyond SQLite's integers cannot exist (and would raise OverflowError)
        return self.one("SELECT * FROM users WHERE id = ? AND deleted = 0", user_id)

    def item(self, item_id: int) -> Row | None:
        if not 0 <= item_id < 1 << 62:
            return None
        return self.one("SELECT * FROM items WHERE id = ? AND purged = 0", item_id)

    def blob_path(self, sha1: str) -> Path:
        return self.dir / "blobs" / sha1[:2] / sha1

    def store_blob(self, tmp: Path, sha1: str) -> None:
        """Moves a fully written temporary file to its content-addressed place (same content, same file)."""
        dest = self.blob_path(sha1)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            tmp.unlink()
        else:
            os.replace(tmp, dest)

    def add_event(
        self,
        event_type: str,
        user_id: int,
        created_by: int,
        source: dict[str, Any],
        created_at: str | None = None,
    ) -> None:
        import uuid

        self.db.execute(
            "INSERT INTO events (event_id, event_type, user_id, created_by, created_at, source) "
            "VALUES (?,?,?,?,?,?)",
            (str(uuid.uuid4()), event_type, user_id, created_by, created_at or now_iso(), json.dumps(source)),
        )
