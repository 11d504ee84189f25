"""Rebuild PostgreSQL's full-text index with the blocks of ids each article is in among its
facets, and words, facets and pairs under one GIN index, so that a search's window of the
newest ids is intersected with its words inside the index instead of walking the primary key.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08

As 0009 says, a change to the index drops it and creates it from ``archive/db/fulltext.py``
(at 1M articles about 15 minutes). SQLite's index is unchanged. Downgrade keeps the index:
0021's code finds what it looks for in it (the extra facets are tokens no query of it names).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.db import fulltext

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        fulltext.drop(bind)
        fulltext.create(bind)


def downgrade() -> None:
    pass
