"""Rebuild the full-text index with facets: the source, the published day and the author, so a
filtered search is one index lookup.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

As 0009 says, a change to the index drops it and creates it from ``archive/db/fulltext.py``,
filled again from the articles stored (both back ends). Downgrade keeps the index: 0019's code
queries the same tables (on SQLite its words then also find authors' names).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.db import fulltext

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    fulltext.drop(bind)
    fulltext.create(bind)


def downgrade() -> None:
    pass
