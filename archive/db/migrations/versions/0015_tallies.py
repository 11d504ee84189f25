"""The syndication analytics kept as pages are placed (issue #20): page facts and their tallies.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

``page_facts``: what each placed page adds to the analytics; ``tallies``: their sums per
figure and key (``archive.syndication.tallies``). Both are filled here from the placements
already stored, as ``dedup rebuild`` fills them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SurtKey = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "page_facts",
        sa.Column("url_key", SurtKey, nullable=False),
        sa.Column("article_id", Id, nullable=False),
        sa.Column("cluster_id", Id, nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("site", sa.String(200), nullable=True),
        sa.Column("origin_id", Id, nullable=True),
        sa.Column("parent_site", sa.String(200), nullable=True),
        sa.Column("cited", sa.Boolean(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("kept", sa.Float(), nullable=True),
        sa.Column("edit_counts", sa.Text(), nullable=True),
        sa.Column("lag_seconds", sa.Float(), nullable=True),
        sa.Column("lag_measured", sa.String(16), nullable=True),
        sa.Column("month", sa.String(16), nullable=True),
        sa.Column("spread_author", sa.Text(), nullable=True),
        sa.Column("spread_site", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("url_key", name=op.f("pk_page_facts")),
    )
    op.create_index(op.f("ix_page_facts_cluster_id"), "page_facts", ["cluster_id"])
    op.create_index(op.f("ix_page_facts_site_lag_seconds"), "page_facts", ["site", "lag_seconds"])
    op.create_index(op.f("ix_page_facts_site_similarity"), "page_facts", ["site", "similarity"])
    op.create_table(
        "tallies",
        sa.Column("figure", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("figure", "name", "detail", name=op.f("pk_tallies")),
    )
    op.create_index(op.f("ix_tallies_figure_n"), "tallies", ["figure", "n"])
    from archive.syndication import tallies  # the same counting as the writer's

    tallies.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_table("tallies")
    op.drop_table("page_facts")
