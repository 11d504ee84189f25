"""Allow two more sources of an article's publication date: its URL and its Last-Modified header.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

"url": the date in whole segments of the page's own path (``/YYYY/MM/DD/``); "last-modified":
the HTTP header, the weakest evidence, kept apart so that chains can tell a modification date
from a publication date. The allowed values are spelled out, as in 0001, not imported.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "'page', 'feed', 'sitemap'"
_NEW = "'page', 'feed', 'sitemap', 'url', 'last-modified'"


def _allow(values: str) -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_constraint(op.f("ck_articles_published_source"), type_="check")
        batch.create_check_constraint(
            op.f("ck_articles_published_source"), f"published_source IS NULL OR published_source IN ({values})"
        )


def upgrade() -> None:
    _allow(_NEW)


def downgrade() -> None:
    op.execute(
        "UPDATE articles SET published = NULL, published_source = NULL"
        " WHERE published_source IN ('url', 'last-modified')"
    )
    _allow(_OLD)
