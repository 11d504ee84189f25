"""Create the full-text index of articles (``syndicrawl search``), filled from the articles stored so far.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Unlike the other migrations, this one runs the statements of ``archive/db/fulltext.py``
instead of spelling them out: a new archive gets the index from the same statements after
``create_all``, and two copies of 60 lines of triggers would drift. A later change to the
index is a migration that calls ``fulltext.drop`` then ``fulltext.create``; so is any
migration rebuilding ``articles`` in batch mode on SQLite, which drops the table's triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.db import fulltext

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    fulltext.create(op.get_bind())


def downgrade() -> None:
    fulltext.drop(op.get_bind())
