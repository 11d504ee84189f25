"""Create the syndication tables: confirmed article links and each article's placement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Types and names are spelled out, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "article_links",
        sa.Column("id", Id, nullable=False),
        sa.Column("article_id", Id, nullable=False),
        sa.Column("other_id", Id, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("contained", sa.Float(), nullable=False),
        sa.Column("covered", sa.Float(), nullable=False),
        sa.CheckConstraint("kind IN ('copy', 'excerpt')", name=op.f("ck_article_links_kind")),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_links_article_id_articles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["articles.id"], name=op.f("fk_article_links_other_id_articles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_links")),
        sa.UniqueConstraint("article_id", "other_id", name=op.f("uq_article_links_article_id_other_id")),
    )
    op.create_index(op.f("ix_article_links_article_id"), "article_links", ["article_id"])
    op.create_index(op.f("ix_article_links_other_id"), "article_links", ["other_id"])
    op.create_table(
        "syndication",
        sa.Column("article_id", Id, nullable=False),
        sa.Column("cluster_id", Id, nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("origin_id", Id, nullable=True),
        sa.Column("parent_id", Id, nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "relation IN ('origin', 'copy', 'excerpt', 'unique')", name=op.f("ck_syndication_relation")
        ),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_syndication_article_id_articles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["origin_id"], ["articles.id"], name=op.f("fk_syndication_origin_id_articles"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["articles.id"], name=op.f("fk_syndication_parent_id_articles"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_syndication")),
    )
    op.create_index(op.f("ix_syndication_cluster_id"), "syndication", ["cluster_id"])


def downgrade() -> None:
    op.drop_table("syndication")
    op.drop_table("article_links")
