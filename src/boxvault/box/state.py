"""Local state of the Box backup between runs (SQLite): the users seen last time, each user's events
stream position, and per-item captured extras with the etag they were captured at."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from boxvault.box.users import BoxUser
from boxvault.box.versions import OldVersion, dumps, loads

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    scope TEXT NOT NULL, id TEXT NOT NULL, login TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (scope, id)
);
CREATE TABLE IF NOT EXISTS stream_positions (
    scope TEXT NOT NULL, box_user_id TEXT NOT NULL, position TEXT NOT NULL, PRIMARY KEY (scope, box_user_id)
);
CREATE TABLE IF NOT EXISTS event_positions (
    scope TEXT NOT NULL, box_user_id TEXT NOT NULL,
    position TEXT NOT NULL,      -- the user's events stream position taken before the walk of ...
    snapshot_id TEXT NOT NULL,   -- ... this snapshot
    full_walk_at REAL NOT NULL,  -- when that user's tree was last listed in full (epoch seconds)
    PRIMARY KEY (scope, box_user_id)
);
CREATE TABLE IF NOT EXISTS item_versions (
    scope TEXT NOT NULL, item_id TEXT NOT NULL,
    current_version_id TEXT NOT NULL,  -- the list is valid while the file's current version is this one
    versions TEXT NOT NULL,            -- JSON list of the previous versions
    PRIMARY KEY (scope, item_id)
);
CREATE TABLE IF NOT EXISTS item_extras (
    scope TEXT NOT NULL, box_user_id TEXT NOT NULL, item_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,      -- etag + the listing flags the capture depended on
    extras TEXT NOT NULL,           -- JSON {"box.collaborations": "...", ...}
    PRIMARY KEY (scope, box_user_id, item_id)
);
"""


class StateStore:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def users(self, scope: str) -> list[BoxUser]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, login, name, status FROM users WHERE scope=?", (scope,)
            ).fetchall()
        return [BoxUser(*r) for r in rows]

    def save_users(self, scope: str, users: list[BoxUser]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM users WHERE scope=?", (scope,))
            self._db.executemany(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
                [(scope, u.id, u.login, u.name, u.status) for u in users],
            )
            self._db.execute("COMMIT")

    def stream_position(self, scope: str, box_user_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT position FROM stream_positions WHERE scope=? AND box_user_id=?", (scope, box_user_id)
            ).fetchone()
        return None if row is None else str(row[0])

    def save_stream_position(self, scope: str, box_user_id: str, position: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO stream_positions VALUES (?, ?, ?)", (scope, box_user_id, position)
            )

    def extras(self, scope: str, box_user_id: str, item_id: str, fingerprint: str) -> dict[str, bytes] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT extras FROM item_extras "
                "WHERE scope=? AND box_user_id=? AND item_id=? AND fingerprint=?",
                (scope, box_user_id, item_id, fingerprint),
            ).fetchone()
        if row is None:
            return None
        return {k: v.encode() for k, v in json.loads(row[0]).items()}

    def save_extras(
        self, scope: str, box_user_id: str, rows: list[tuple[str, str, dict[str, bytes]]]
    ) -> None:
        """(item id, fingerprint, extras) rows."""
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO item_extras VALUES (?, ?, ?, ?, ?)",
                [
                    (scope, box_user_id, iid, fp, json.dumps({k: v.decode() for k, v in ex.items()}))
                    for iid, fp, ex in rows
                ],
            )
            self._db.execute("COMMIT")

    def versions(self, scope: str, item_id: str, current_version_id: str) -> list[OldVersion] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT versions FROM item_versions WHERE scope=? AND item_id=? AND current_version_id=?",
                (scope, item_id, current_version_id),
            ).fetchone()
        return None if row is None else loads(row[0])

    def save_versions(self, scope: str, rows: list[tuple[str, str, list[OldVersion]]]) -> None:
        """(item id, current version id, previous versions) rows."""
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO item_versions VALUES (?, ?, ?, ?)",
                [(scope, iid, cur, dumps(vs)) for iid, cur, vs in rows],
            )
            self._db.execute("COMMIT")

    def event_position(self, scope: str, box_user_id: str) -> tuple[str, str, float] | None:
        """(stream position, snapshot id, time of the last full walk) saved with the user's last snapshot."""
        with self._lock:
            row = self._db.execute(
                "SELECT position, snapshot_id, full_walk_at FROM event_positions "
                "WHERE scope=? AND box_user_id=?",
                (scope, box_user_id),
            ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), float(row[2]))

    def walk_in_full_next(self, scope: str) -> int:
        """Every user's next run lists everything (what a shortcut over an unchanged tree would not
        capture, e.g. version history just turned on); returns how many users were marked."""
        with self._lock:
            return self._db.execute(
                "UPDATE event_positions SET full_walk_at = 0 WHERE scope=?", (scope,)
            ).rowcount

    def save_event_position(
        self, scope: str, box_user_id: str, position: str, snapshot_id: str, full_walk_at: float
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO event_positions VALUES (?, ?, ?, ?, ?)",
                (scope, box_user_id, position, snapshot_id, full_walk_at),
            )
