"""The source counts' triggers find a URL's other captures by its key (issue #20).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

SQLite (without statistics) and PostgreSQL (the trigger function's cached plan) answered "has
the source another article of this URL?" through the captures' source index, reading every
capture of the source for each article stored: a crawl into a large archive slowed with it. The triggers are made again as ``archive.db.sourcecounts``
writes them now; the counts do not change.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.db import sourcecounts

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sourcecounts.drop(op.get_bind())
    sourcecounts.triggers(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the triggers of 0016 count alike."""
