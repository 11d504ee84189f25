"""SQLite: every stored time says it is UTC (``2016-11-01 15:22:00.000000+00:00``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

SQLite has no time zone type; its times were the UTC wall time alone, which another tool
(``sqlite3``, Datasette, DuckDB) reads as a time in no zone, or in its own. The archive now
writes them with ``+00:00`` (``models.SQLITE_TIME_FORMAT``) and this migration adds it to the
times already stored. PostgreSQL's are ``timestamp with time zone`` already: nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every time column at this revision.
_TIMES = {
    "sources": ("created_at",),
    "crawls": ("started_at", "finished_at"),
    "feeds": ("last_fetched_at",),
    "feed_entries": ("first_seen_at",),
    "captures": ("timestamp",),
    "articles": ("extracted_at",),
    "syndication": ("updated_at",),
    "feed_polling": ("last_polled_at", "last_success_at", "last_new_entry_at", "last_error_at", "next_poll_at"),
    "feed_poll_outcomes": ("polled_at",),
    "leases": ("acquired_at", "expires_at"),
    "schedule_runs": ("started_at", "finished_at"),
}
_UTC = "+00:00"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in _TIMES.items():
        for column in columns:
            op.execute(f"UPDATE {table} SET {column} = {column} || '{_UTC}' WHERE {column} NOT LIKE '%{_UTC}'")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in _TIMES.items():
        for column in columns:
            op.execute(
                f"UPDATE {table} SET {column} = substr({column}, 1, length({column}) - {len(_UTC)})"
                f" WHERE {column} LIKE '%{_UTC}'"
            )
