"""Item search over the recovery catalog: SQLite FTS5 or PostgreSQL full text, kept in sync by triggers."""
