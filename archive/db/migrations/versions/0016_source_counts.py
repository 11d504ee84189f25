"""Per source counts of captures, bytes, articles, failed extractions and pages, kept by triggers (issue #20).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

``source_counts`` and the triggers on ``captures`` and ``articles`` keeping it
(``archive.db.sourcecounts``), filled from the rows already stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from archive.db import sourcecounts

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "source_counts",
        sa.Column("source_id", Id, nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in ("captures", "bytes", "articles", "failed", "pages")),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_source_counts_source_id_sources"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_counts")),
    )
    sourcecounts.create(op.get_bind())


def downgrade() -> None:
    sourcecounts.drop(op.get_bind())
    op.drop_table("source_counts")
