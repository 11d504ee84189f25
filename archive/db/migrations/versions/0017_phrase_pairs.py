"""Rebuild PostgreSQL's full-text index with ``pairs``, the hashed word pairs that find phrases.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

As 0009 says, a change to the index drops it and creates it from ``archive/db/fulltext.py``,
filled again from the articles stored. SQLite's FTS5 index is unchanged: nothing to do there.
Downgrade keeps the index: the code of 0016 reads only ``document``, and the triggers keep
``pairs`` current; 0009's downgrade drops both.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.db import fulltext

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        fulltext.drop(bind)
        fulltext.create(bind)


def downgrade() -> None:
    pass
