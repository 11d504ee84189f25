"""Rebuild the full-text index: on SQLite the trigram table with two spaces after each title and
text, and its vocabulary table, so a Chinese or Japanese term of one or two characters is found
by the trigrams it begins instead of a scan of every such article; on PostgreSQL the facets with
the article's id (``i`` and each prefix of its digits), so the newest matches of a word are
found in the GIN index instead of from every match's heap row.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

As 0009 says, a change to the index drops it and creates it from ``archive/db/fulltext.py``,
filled again from the articles stored (both back ends). Downgrade keeps the index: 0020's code
scans short terms with ``LIKE`` (the spaces after each column change nothing for it) and
ignores the id facets.
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
    fulltext.drop(bind)
    fulltext.create(bind)


def downgrade() -> None:
    pass
