"""Create the table of the pages each article cites as its source.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Citations become candidates for matching whatever the LSH index returns (an excerpt that
keeps a fifth of its source shares too few shingles to be found by them). Articles already
matched have none until ``syndicrawl dedup rebuild``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SurtKey = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "article_citations",
        sa.Column("url_key", SurtKey, nullable=False),
        sa.Column("article_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_citations_article_id_articles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("url_key", "article_id", name=op.f("pk_article_citations")),
    )
    op.create_index(op.f("ix_article_citations_article_id"), "article_citations", ["article_id"])


def downgrade() -> None:
    op.drop_table("article_citations")
