"""When each article page is fetched again to see whether it changed (issue #19, item 3).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

One row per article page: its source, the capture whose validators (ETag, Last-Modified) a
recheck sends, when it was first captured and when its next recheck is due (NULL: none left).
Pages archived before this revision get no row: upgrading an old archive does not re-fetch it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SurtKey = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "rechecks",
        sa.Column("url_key", SurtKey, nullable=False),
        sa.Column("source_id", Id, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("capture_id", Id, nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.String(64), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_rechecks_source_id_sources"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["capture_id"], ["captures.id"], name=op.f("fk_rechecks_capture_id_captures"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("url_key", name=op.f("pk_rechecks")),
    )
    op.create_index(op.f("ix_rechecks_source_id_next_at"), "rechecks", ["source_id", "next_at"])
    op.create_index(op.f("ix_rechecks_capture_id"), "rechecks", ["capture_id"])


def downgrade() -> None:
    op.drop_table("rechecks")
