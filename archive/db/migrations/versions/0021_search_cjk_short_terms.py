"""Rebuild SQLite's trigram index with two spaces after each title and text, and its
vocabulary table, so a Chinese or Japanese term of one or two characters is found by the
trigrams it begins instead of a scan of every such article.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

As 0009 says, a change to the index drops it and creates it from ``archive/db/fulltext.py``.
PostgreSQL's index is unchanged. Downgrade keeps the index: 0020's code scans short terms with
``LIKE``, which the spaces after each column do not change.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.db import fulltext

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        fulltext.drop(bind)
        fulltext.create(bind)


def downgrade() -> None:
    pass
