"""Which repository blobs hold a Box file version's content: the first level of dedup.

Keyed by (repository id, file id, version id) and by (repository id, sha1). An entry is written only
after the blobs it names are durable in the repository (after a `checkpoint()` or `commit()`), and
every reuse is verified with `repo.has_blob` first, so a stale cache (a pruned repository, a run
killed before its checkpoint) costs a download, never a snapshot pointing at missing data.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_versions (
    repo_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    version_id TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    size INTEGER NOT NULL,
    blobs BLOB NOT NULL,           -- the content blob ids, 32 bytes each, concatenated in order
    PRIMARY KEY (repo_id, file_id, version_id)
);
CREATE INDEX IF NOT EXISTS file_versions_sha1 ON file_versions (repo_id, sha1);
"""


@dataclass(frozen=True)
class CachedContent:
    blobs: tuple[bytes, ...]
    size: int


def _pack(blobs: list[bytes] | tuple[bytes, ...]) -> bytes:
    if any(len(b) != 32 for b in blobs):
        raise ValueError("blob ids are 32 bytes")
    return b"".join(blobs)


def _unpack(data: bytes) -> tuple[bytes, ...]:
    return tuple(data[i : i + 32] for i in range(0, len(data), 32))


class BlobCache:
    def __init__(self, path: str | Path, repo_id: str) -> None:
        self.repo_id = repo_id
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        # a repository's first backup asks for every file and finds nothing: no query needed until a
        # checkpoint stores the first rows (the content store's own map covers this run's files meanwhile)
        self._empty = (
            self._db.execute("SELECT 1 FROM file_versions WHERE repo_id=? LIMIT 1", (repo_id,)).fetchone()
            is None
        )

    def lookup(self, file_id: str, version_id: str | None, sha1: str | None) -> CachedContent | None:
        if self._empty:
            return None
        with self._lock:
            row = None
            if version_id:
                row = self._db.execute(
                    "SELECT blobs, size FROM file_versions WHERE repo_id=? AND file_id=? AND version_id=?",
                    (self.repo_id, file_id, version_id),
                ).fetchone()
            if row is None and sha1:
                row = self._db.execute(
                    "SELECT blobs, size FROM file_versions WHERE repo_id=? AND sha1=? LIMIT 1",
                    (self.repo_id, sha1),
                ).fetchone()
        if row is None:
            return None
        return CachedContent(_unpack(bytes(row[0])), int(row[1]))

    def store_many(self, entries: list[tuple[str, str, str, CachedContent]]) -> None:
        """(file id, version id, sha1, content) rows; call only once the blobs are durable."""
        if not entries:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO file_versions VALUES (?, ?, ?, ?, ?, ?)",
                    [(self.repo_id, fid, vid, sha1, c.size, _pack(c.blobs)) for fid, vid, sha1, c in entries],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._empty = False

    def forget(self, file_id: str, version_id: str) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM file_versions WHERE repo_id=? AND file_id=? AND version_id=?",
                (self.repo_id, file_id, version_id),
            )

    def count(self) -> int:
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT count(*) FROM file_versions WHERE repo_id=?", (self.repo_id,)
                ).fetchone()[0]
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
