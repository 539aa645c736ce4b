"""The search index next to the catalog table `backups_catalogversion`, created by raw SQL per backend.

The catalog rows belong to the backups app; the index belongs to us and follows them through database
triggers, so every catalog write (bulk inserts, range closing, cascading deletes) updates the index in the
same transaction without the catalog code knowing about search.

- `search_doc`: one narrow row per catalog row (same id): task, modified date; on PostgreSQL also three
  stored tsvectors (words of the path, words of the name, author names/logins) with GIN indexes, so a
  phrase recheck reads a stored vector instead of re-parsing the path.
- SQLite: a contentless FTS5 table (columns words/name/authors/owner), rowid = the catalog row id.

Text is normalised the same way on both: ASCII punctuation separates words (so "budget_2024.xlsx" is
budget, 2024, xlsx), author JSON keys are dropped, case is folded.
"""

# ruff: noqa: S608 - every statement here is built from constant table, column and expression text
from __future__ import annotations

from typing import Any

CATALOG = "backups_catalogversion"

# {"id":"1","name":"Ann Lee","login":"ann@x.example"} -> the values only (no token "name" for everyone)
_AUTHORS = (
    "replace(replace(replace(coalesce({p}.created_by, '') || ' ' || coalesce({p}.modified_by, ''),"
    " '\"id\":', ' '), '\"name\":', ' '), '\"login\":', ' ')"
)

# ---------------------------------------------------------------- SQLite
# Versioned names: a changed FTS layout gets new objects, and ensure() drops the old ones (LEGACY).
# The FTS table is contentless: no view or external-content link may name the catalog table, or
# Django's SQLite table remake (create new, drop old, rename) fails with "error in view ...".
FTS = "search_fts_v3"
# `owner` ("u<box user id>") lets FTS5 intersect a user's short doclist with a common word's long one.
LEGACY = [
    "DROP TRIGGER IF EXISTS search_catalog_insert",
    "DROP TRIGGER IF EXISTS search_catalog_delete",
    "DROP TRIGGER IF EXISTS search_catalog_update",
    "DROP TRIGGER IF EXISTS search_v2_insert",
    "DROP TRIGGER IF EXISTS search_v2_delete",
    "DROP TRIGGER IF EXISTS search_v2_update",
    "DROP TABLE IF EXISTS search_fts",
    "DROP VIEW IF EXISTS search_text",
    "DROP TABLE IF EXISTS search_fts_v2",
    "DROP VIEW IF EXISTS search_text_v2",
]
_SQLITE_TABLES = [
    "CREATE TABLE IF NOT EXISTS search_doc"
    " (id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, box_user_id TEXT NOT NULL, modified TEXT)",
    "CREATE INDEX IF NOT EXISTS search_doc_task_modified ON search_doc (task_id, modified)",
    "CREATE INDEX IF NOT EXISTS search_doc_user_modified ON search_doc (task_id, box_user_id, modified)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(words, name, authors, owner,"
    " content='', tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
]
_SQLITE_ADD = (
    "INSERT INTO search_doc (id, task_id, box_user_id, modified)"  # nosec B608 # identifiers are constants, values bound as parameters
    " VALUES (new.id, new.task_id, new.box_user_id, new.content_modified_at);"
    f" INSERT INTO {FTS} (rowid, words, name, authors, owner)"
    f" VALUES (new.id, new.path, new.name, {_AUTHORS.format(p='new')}, 'u' || new.box_user_id);"
)
_SQLITE_DROP = (
    "DELETE FROM search_doc WHERE id = old.id;"  # nosec B608 # identifiers are constants, values bound as parameters
    f" INSERT INTO {FTS} ({FTS}, rowid, words, name, authors, owner)"
    f" VALUES ('delete', old.id, old.path, old.name, {_AUTHORS.format(p='old')}, 'u' || old.box_user_id);"
)
SQLITE_TRIGGERS = {
    "search_v3_insert": f"AFTER INSERT ON {CATALOG} BEGIN {_SQLITE_ADD} END",
    "search_v3_delete": f"AFTER DELETE ON {CATALOG} BEGIN {_SQLITE_DROP} END",
    "search_v3_update": (
        "AFTER UPDATE OF path, name, created_by, modified_by, content_modified_at, task_id, box_user_id"
        f" ON {CATALOG}"
        f" BEGIN {_SQLITE_DROP} {_SQLITE_ADD} END"
    ),
}

# ---------------------------------------------------------------- PostgreSQL
PG_NORM = "regexp_replace({x}, '[[:punct:][:space:]]+', ' ', 'g')"
PG_VECTOR = "to_tsvector('simple'::regconfig, " + PG_NORM + ")"
_PG_ROW = (
    "{p}.id, {p}.task_id, {p}.box_user_id, {p}.content_modified_at, "
    + PG_VECTOR.format(x="{p}.path")
    + ", "
    + PG_VECTOR.format(x="{p}.name")
    + ", "
    + PG_VECTOR.format(x=_AUTHORS)
)
PG_INDEXES = [
    "CREATE INDEX IF NOT EXISTS search_doc_words ON search_doc USING gin (words)",
    "CREATE INDEX IF NOT EXISTS search_doc_name ON search_doc USING gin (name)",
    "CREATE INDEX IF NOT EXISTS search_doc_authors ON search_doc USING gin (authors)",
    "CREATE INDEX IF NOT EXISTS search_doc_task_modified ON search_doc (task_id, modified)",
    "CREATE INDEX IF NOT EXISTS search_doc_user_modified ON search_doc (task_id, box_user_id, modified)",
    "CREATE INDEX IF NOT EXISTS search_doc_task_id ON search_doc (task_id, id)",  # a task's newest rows
]
_PG_TABLES = [
    "CREATE TABLE IF NOT EXISTS search_doc (id bigint PRIMARY KEY, task_id bigint NOT NULL,"
    " box_user_id varchar(64) NOT NULL, modified varchar(40),"
    " words tsvector NOT NULL, name tsvector NOT NULL, authors tsvector NOT NULL)",
    *PG_INDEXES,
    f"""CREATE OR REPLACE FUNCTION search_doc_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND (NEW.path, NEW.name, NEW.created_by, NEW.modified_by, NEW.content_modified_at,
      NEW.task_id, NEW.box_user_id) IS NOT DISTINCT FROM (OLD.path, OLD.name, OLD.created_by,
      OLD.modified_by, OLD.content_modified_at, OLD.task_id, OLD.box_user_id) THEN
    RETURN NULL;  -- e.g. a range closing (until_snapshot): nothing searched changed
  END IF;
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM search_doc WHERE id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO search_doc (id, task_id, box_user_id, modified, words, name, authors)
      SELECT {_PG_ROW.format(p="NEW")};
  END IF;
  RETURN NULL;
END $$""",  # nosec B608 # constant names; the trigger runs on rows, takes no input
]
# No column list ("UPDATE OF name, ..."): that would make PostgreSQL refuse a later ALTER COLUMN of those
# columns by the backups app; the function skips updates that change nothing searched instead.
PG_TRIGGER_NAME = "search_doc_sync_v2"
PG_TRIGGER = (
    f"CREATE TRIGGER {PG_TRIGGER_NAME} AFTER INSERT OR DELETE OR UPDATE ON {CATALOG}"
    " FOR EACH ROW EXECUTE FUNCTION search_doc_sync()"
)
PG_LEGACY = [f"DROP TRIGGER IF EXISTS search_doc_sync ON {CATALOG}"]
PG_FILL = (
    "INSERT INTO search_doc (id, task_id, box_user_id, modified, words, name, authors)"  # nosec B608 # identifiers are constants, values bound as parameters
    f" SELECT {_PG_ROW.format(p='c')} FROM {CATALOG} c"
)


def ensure(connection: Any) -> None:
    """Create the index objects that are missing; re-index everything when the sync was broken."""
    if connection.vendor == "sqlite":
        _ensure_sqlite(connection)
    elif connection.vendor == "postgresql":
        _ensure_postgres(connection)


def _ensure_sqlite(connection: Any) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE type='table' AND name=%s", [CATALOG])
        if cur.fetchone() is None:
            return  # the backups app is not migrated yet
        for sql in [*LEGACY, *_SQLITE_TABLES]:
            cur.execute(sql)
        cur.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'search_v3_%%'")
        present = {row[0] for row in cur.fetchall()}
        missing = [name for name in SQLITE_TRIGGERS if name not in present]
        for name in missing:
            cur.execute(f"CREATE TRIGGER {name} {SQLITE_TRIGGERS[name]}")
        if missing:
            cur.execute("DELETE FROM search_doc")
            cur.execute(
                "INSERT INTO search_doc (id, task_id, box_user_id, modified)"  # nosec B608 # constant names
                f" SELECT id, task_id, box_user_id, content_modified_at FROM {CATALOG}"
            )
            cur.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('delete-all')")  # nosec B608 # identifiers are constants, values bound as parameters
            cur.execute(
                f"INSERT INTO {FTS} (rowid, words, name, authors, owner) SELECT c.id, c.path, c.name,"  # nosec B608 # identifiers are constants, values bound as parameters
                f" {_AUTHORS.format(p='c')}, 'u' || c.box_user_id FROM {CATALOG} c"
            )


def _ensure_postgres(connection: Any) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", [CATALOG])
        if cur.fetchone()[0] is None:
            return
        for sql in [*PG_LEGACY, *_PG_TABLES]:
            cur.execute(sql)
        cur.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = to_regclass(%s)",
            [PG_TRIGGER_NAME, CATALOG],
        )
        if cur.fetchone() is None:
            cur.execute(PG_TRIGGER)
            cur.execute("DELETE FROM search_doc")
            cur.execute(PG_FILL)


def drop(connection: Any) -> None:
    """Remove every object ensure() creates (the migration's reverse)."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            for name in SQLITE_TRIGGERS:
                cur.execute(f"DROP TRIGGER IF EXISTS {name}")
            for sql in (*LEGACY, f"DROP TABLE IF EXISTS {FTS}"):
                cur.execute(sql)
        elif connection.vendor == "postgresql":
            for sql in [*PG_LEGACY, f"DROP TRIGGER IF EXISTS {PG_TRIGGER_NAME} ON {CATALOG}"]:
                cur.execute(sql)
            cur.execute("DROP FUNCTION IF EXISTS search_doc_sync()")
        cur.execute("DROP TABLE IF EXISTS search_doc")
