"""Allow one more kind of feed poll error: an address the crawl refuses.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

"address": the feed's host is on a loopback, private, link-local, multicast or unspecified
address and its source does not allow those (``private_addresses``); it was counted as
"connection", which a server coming back would fix. The allowed values are spelled out, as in
0004, not imported.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "'dns', 'connection', 'timeout', 'http_4xx', 'http_5xx', 'parse', 'blocked', 'process'"
_NEW = f"{_OLD}, 'address'"
_COLUMNS = {"feed_polling": "last_error_kind", "feed_poll_outcomes": "error_kind"}


def _allow(values: str) -> None:
    for table, column in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
            batch.create_check_constraint(op.f(f"ck_{table}_{column}"), f"{column} IS NULL OR {column} IN ({values})")


def upgrade() -> None:
    _allow(_NEW)


def downgrade() -> None:
    for table, column in _COLUMNS.items():
        op.execute(f"UPDATE {table} SET {column} = 'connection' WHERE {column} = 'address'")
    _allow(_OLD)
