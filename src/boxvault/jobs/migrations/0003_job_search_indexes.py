"""Trigram indexes for the Jobs search (`q=`) on PostgreSQL.

The search is a case-insensitive substring match (`UPPER(col) LIKE UPPER('%…%')`) over five text columns:
without an index it reads every job of the tenant (0.5–0.7 s at 100,000 jobs). One GIN trigram index per
column on the very expression Django's `icontains` emits lets PostgreSQL OR them in a bitmap scan. Built
CONCURRENTLY (so an upgrade never locks the jobs table against the workers), hence a non-atomic migration.
`pg_trgm` is a trusted extension (PostgreSQL 13+): the database owner may create it. Where it cannot be
created, the search keeps working unindexed, and the migration says so. SQLite: nothing to do."""

from __future__ import annotations

import sys

from django.db import DatabaseError, migrations, models

COLUMNS = ["task_name", "box_user_login", "destination", "message", "initiator_label"]


def _name(column: str) -> str:
    return f"jobs_job_q_{column}"


def create(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as exc:
            print(
                f"\n  jobs: the pg_trgm extension could not be created ({exc}); the Jobs search works without"
                " its index. Create it as the database owner and run `boxvault manage migrate jobs 0002`"
                " then `migrate` to add the index.",
                file=sys.stderr,
            )
            return
        for column in COLUMNS:
            cursor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {_name(column)} ON jobs_job "  # nosec B608 # fixed names
                f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
            )


def drop(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_name(column)}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("jobs", "0002_job_filter_choice_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["account", "box_user_id"], name="jobs_job_box_user"),
        ),
        migrations.RunPython(create, drop, elidable=False),
    ]
