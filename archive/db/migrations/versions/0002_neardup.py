"""Create the near-duplicate index tables: MinHash LSH band keys and article fingerprints.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-25

``minhash_bands`` is only its primary key ``(key, article_id)``: on SQLite it is a
``WITHOUT ROWID`` table, so the key lookup tree is the table itself rather than an index
beside a rowid table of the same size. Types and names are spelled out, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "minhash_bands",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("key", "article_id", name=op.f("pk_minhash_bands")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "article_fingerprints",
        sa.Column("article_id", Id, autoincrement=False, nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("shingles", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_fingerprints_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_fingerprints")),
    )


def downgrade() -> None:
    op.drop_table("article_fingerprints")
    op.drop_table("minhash_bands")
