"""Create the per-site line counts from which matching learns each site's boilerplate, and
the names each site goes by, through which a page crediting a site by name finds its articles.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Both start with the articles matched from now on; ``syndicrawl dedup rebuild`` fills them
from every stored article.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "site_lines",
        sa.Column("source_id", Id, nullable=False),
        sa.Column("line_hash", sa.BigInteger(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_site_lines_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("source_id", "line_hash", name=op.f("pk_site_lines")),
        sqlite_with_rowid=False,
    )


    op.create_table(
        "site_names",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_site_names_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("name", "source_id", name=op.f("pk_site_names")),
    )


def downgrade() -> None:
    op.drop_table("site_names")
    op.drop_table("site_lines")
