"""The one query per backend: catalog row ids matching the criteria, newest rows first."""

from __future__ import annotations

from typing import Any

from boxvault.search.query import Criteria, fts5, tsqueries
from boxvault.search.schema import FTS


def _filters(c: Criteria, alias: str) -> tuple[list[str], list[Any]]:
    where, params = [], []
    if c.box_user_id:
        where.append(f"{alias}.box_user_id = %s")
        params.append(c.box_user_id)
    if c.date_from:
        where.append(f"{alias}.modified >= %s")
        params.append(c.date_from)
    if c.date_until:
        # dates compare as text: "2021-08-09T10:11:12-07:00" < "2021-08-10" (Box's own calendar day)
        where.append(f"{alias}.modified < %s")
        params.append(c.date_until)
    return where, params


def matching_ids(connection: Any, task_id: int, c: Criteria, limit: int, offset: int) -> list[int]:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            return _postgres(cur, task_id, c, limit, offset)
        sql, params = _sqlite(task_id, c)
        cur.execute(f"{sql} LIMIT %s OFFSET %s", [*params, limit, offset])
        return [row[0] for row in cur.fetchall()]


def _sqlite(task_id: int, c: Criteria) -> tuple[str, list[Any]]:
    where, params = _filters(c, "d")
    if not c.has_text:
        clause = " AND ".join(["d.task_id = %s", *where])
        sql = f"SELECT d.id FROM search_doc d WHERE {clause} ORDER BY d.id DESC"  # noqa: S608 - constant SQL  # nosec B608
        return sql, [task_id, *params]
    # CROSS JOIN keeps FTS5 as the outer loop and ORDER BY its rowid lets it stream matches newest first,
    # so LIMIT stops early instead of sorting every match of a common word.
    match = fts5(c)
    if c.box_user_id:  # digits only (query.criteria): the user's short doclist narrows the word's long one
        match += f' AND owner : "u{c.box_user_id}"'
    clause = " AND ".join([f"{FTS} MATCH %s", "d.task_id = %s", *where])
    sql = (
        f"SELECT d.id FROM {FTS} f CROSS JOIN search_doc d ON d.id = f.rowid"  # noqa: S608 - constant SQL  # nosec B608
        f" WHERE {clause} ORDER BY f.rowid DESC"
    )
    return sql, [match, task_id, *params]


# PostgreSQL's estimate for a word missing from the column's most-common list is a fixed fraction of the
# rows, so for a rare word it walks the primary key backwards through the whole table hoping for 51
# matches soon (1.4 s at a million rows). Instead: look among the task's newest WINDOW rows first (bounded
# work, and enough for common words); only when they hold too few matches is the word rare enough that
# fetching all its matches through the GIN indexes and sorting them is cheap.
WINDOW = 20_000


def _postgres(cur: Any, task_id: int, c: Criteria, limit: int, offset: int) -> list[int]:
    where, params = _filters(c, "d")
    for column, query in tsqueries(c).items():
        where.append(f"d.{column} @@ to_tsquery('simple'::regconfig, %s)")
        params.append(query)
    clause = " AND ".join(where) or "TRUE"
    if c.has_text:
        cur.execute(
            "SELECT d.id FROM (SELECT * FROM search_doc WHERE task_id = %s"  # noqa: S608 - constant SQL  # nosec B608
            f" ORDER BY id DESC LIMIT {WINDOW}) d WHERE {clause} ORDER BY d.id DESC LIMIT %s OFFSET %s",
            [task_id, *params, limit, offset],
        )
        found = [row[0] for row in cur.fetchall()]
        if len(found) == limit:  # the window held enough matches, and they are the newest ones
            return found
        sql = (
            f"WITH m AS MATERIALIZED (SELECT d.id FROM search_doc d WHERE d.task_id = %s AND {clause})"  # noqa: S608  # nosec B608
            " SELECT id FROM m ORDER BY id DESC LIMIT %s OFFSET %s"
        )
    else:
        sql = (
            f"SELECT d.id FROM search_doc d WHERE d.task_id = %s AND {clause}"  # noqa: S608 - constant SQL  # nosec B608
            " ORDER BY d.id DESC LIMIT %s OFFSET %s"
        )
    cur.execute(sql, [task_id, *params, limit, offset])
    return [row[0] for row in cur.fetchall()]
