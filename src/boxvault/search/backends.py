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
    if connection.vendor == "postgresql":
        sql, params = _postgres(task_id, c)
    else:
        sql, params = _sqlite(task_id, c)
    with connection.cursor() as cur:
        cur.execute(f"{sql} LIMIT %s OFFSET %s", [*params, limit, offset])
        return [row[0] for row in cur.fetchall()]


def _sqlite(task_id: int, c: Criteria) -> tuple[str, list[Any]]:
    where, params = _filters(c, "d")
    if not c.has_text:
        clause = " AND ".join(["d.task_id = %s", *where])
        sql = f"SELECT d.id FROM search_doc d WHERE {clause} ORDER BY d.id DESC"  # noqa: S608 - constant SQL
        return sql, [task_id, *params]
    # CROSS JOIN keeps FTS5 as the outer loop and ORDER BY its rowid lets it stream matches newest first,
    # so LIMIT stops early instead of sorting every match of a common word.
    match = fts5(c)
    if c.box_user_id:  # digits only (query.criteria): the user's short doclist narrows the word's long one
        match += f' AND owner : "u{c.box_user_id}"'
    clause = " AND ".join([f"{FTS} MATCH %s", "d.task_id = %s", *where])
    sql = (
        f"SELECT d.id FROM {FTS} f CROSS JOIN search_doc d ON d.id = f.rowid"  # noqa: S608 - constant SQL
        f" WHERE {clause} ORDER BY f.rowid DESC"
    )
    return sql, [match, task_id, *params]


def _postgres(task_id: int, c: Criteria) -> tuple[str, list[Any]]:
    where, params = _filters(c, "d")
    text: list[str] = []
    text_params: list[Any] = []
    for column, query in tsqueries(c).items():
        text.append(f"d.{column} @@ to_tsquery('simple'::regconfig, %s)")
        text_params.append(query)
    clause = " AND ".join(["d.task_id = %s", *text, *where])
    sql = f"SELECT d.id FROM search_doc d WHERE {clause} ORDER BY d.id DESC"  # noqa: S608 - constant SQL
    return sql, [task_id, *text_params, *params]
