"""Create the ``pages`` view (one row per archived page) and index the foreign keys queries join on.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

The view is built from ``archive/db/pages.py``, the query the exports read, as a new archive
gets it after ``create_all``. Indexed: ``captures.crawl_id`` (a crawl's captures),
``captures.revisit_of`` and ``syndication.origin_id`` / ``parent_id`` (a cluster's members by
their origin or parent; and each is an ``ON DELETE SET NULL`` that PostgreSQL follows for
every deleted capture or article, reading the whole table without an index).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.db import pages

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("captures", "crawl_id"),
    ("captures", "revisit_of"),
    ("syndication", "origin_id"),
    ("syndication", "parent_id"),
)


def upgrade() -> None:
    for table, column in _INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])
    pages.create(op.get_bind(), edits=False)  # edit summaries come with 0012


def downgrade() -> None:
    pages.drop(op.get_bind())
    for table, column in reversed(_INDEXES):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
