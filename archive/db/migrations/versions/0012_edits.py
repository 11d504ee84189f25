"""Edit summaries of placed copies and revisions of pages captured again (issue #19).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Two new tables; the ``pages`` view is made again with the summary's columns
(``edit_summary``, ``text_kept``). Copies placed before this revision have no summary until
``dedup rebuild``; pages captured again before it have no revisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from archive.db import pages

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SurtKey = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _article(column: str, table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["articles.id"], name=op.f(f"fk_{table}_{column}_articles"), ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "edit_summaries",
        sa.Column("article_id", Id, nullable=False),
        sa.Column("against_id", Id, nullable=True),
        sa.Column("kept", sa.Float(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        _article("article_id", "edit_summaries", "CASCADE"),
        _article("against_id", "edit_summaries", "SET NULL"),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_edit_summaries")),
    )
    op.create_index(op.f("ix_edit_summaries_against_id"), "edit_summaries", ["against_id"])
    op.create_table(
        "revisions",
        sa.Column("id", Id, nullable=False),
        sa.Column("url_key", SurtKey, nullable=False),
        sa.Column("article_id", Id, nullable=False),
        sa.Column("previous_id", Id, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("declared", sa.Text(), nullable=True),
        _article("article_id", "revisions", "CASCADE"),
        _article("previous_id", "revisions", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
        sa.UniqueConstraint("article_id", name=op.f("uq_revisions_article_id")),
    )
    for column in ("url_key", "previous_id", "seen_at"):
        op.create_index(op.f(f"ix_revisions_{column}"), "revisions", [column])
    pages.drop(op.get_bind())
    pages.create(op.get_bind())


def downgrade() -> None:
    pages.drop(op.get_bind())
    pages.create(op.get_bind(), edits=False)
    op.drop_table("revisions")
    op.drop_table("edit_summaries")
