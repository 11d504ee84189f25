"""Create the archive tables: sources, crawls, feeds, feed entries, captures, articles.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Types and constraint names are spelled out rather than imported from ``archive.db.models``:
a migration must keep creating the schema of its own time after the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.CheckConstraint("kind IN ('origin', 'repost', 'unknown')", name=op.f("ck_sources_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sources_name")),
    )
    op.create_table(
        "crawls",
        sa.Column("id", Id, nullable=False),
        sa.Column("source_id", Id, nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pages", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("articles", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("errors", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'interrupted')", name=op.f("ck_crawls_status")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_crawls_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawls")),
    )
    op.create_index(op.f("ix_crawls_source_id"), "crawls", ["source_id"])
    op.create_table(
        "feeds",
        sa.Column("id", Id, nullable=False),
        sa.Column("source_id", Id, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("last_fetched_at", Timestamp, nullable=True),
        sa.CheckConstraint(
            "kind IN ('rss', 'atom', 'json', 'sitemap', 'unknown')", name=op.f("ck_feeds_kind")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_feeds_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feeds")),
        sa.UniqueConstraint("source_id", "url", name=op.f("uq_feeds_source_id_url")),
    )
    op.create_table(
        "feed_entries",
        sa.Column("id", Id, nullable=False),
        sa.Column("feed_id", Id, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_key", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("published", sa.String(64), nullable=True),
        sa.Column("updated", sa.String(64), nullable=True),
        sa.Column("first_seen_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_feed_entries_feed_id_feeds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_entries")),
        sa.UniqueConstraint("feed_id", "url", name=op.f("uq_feed_entries_feed_id_url")),
    )
    op.create_index(op.f("ix_feed_entries_url_key"), "feed_entries", ["url_key"])
    op.create_table(
        "captures",
        sa.Column("id", Id, nullable=False),
        sa.Column("source_id", Id, nullable=True),
        sa.Column("crawl_id", Id, nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_key", sa.Text(), nullable=False),
        sa.Column("timestamp", Timestamp, nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(255), nullable=False),
        sa.Column("warc_file", sa.String(255), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.String(100), nullable=False),
        sa.Column("payload_digest", sa.String(100), nullable=False),
        sa.Column("revisit_of", Id, nullable=True),
        sa.Column("discovered_from", sa.Text(), nullable=True),
        sa.Column("feed_url", sa.Text(), nullable=True),
        sa.Column("redirect_to", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_captures_source_id_sources"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["crawl_id"], ["crawls.id"], name=op.f("fk_captures_crawl_id_crawls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["revisit_of"], ["captures.id"], name=op.f("fk_captures_revisit_of_captures"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
        sa.UniqueConstraint("record_id", name=op.f("uq_captures_record_id")),
    )
    op.create_index(op.f("ix_captures_source_id"), "captures", ["source_id"])
    op.create_index(op.f("ix_captures_payload_digest"), "captures", ["payload_digest"])
    op.create_index("ix_captures_url_key_timestamp", "captures", ["url_key", "timestamp"])
    op.create_table(
        "articles",
        sa.Column("id", Id, nullable=False),
        sa.Column("capture_id", Id, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("published", sa.String(64), nullable=True),
        sa.Column("published_source", sa.String(16), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("sitename", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("extracted_at", Timestamp, nullable=False),
        sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f("ck_articles_status")),
        sa.CheckConstraint(
            "published_source IS NULL OR published_source IN ('page', 'feed', 'sitemap')",
            name=op.f("ck_articles_published_source"),
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_articles_capture_id_captures"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("capture_id", name=op.f("uq_articles_capture_id")),
    )
    op.create_index(op.f("ix_articles_canonical_url"), "articles", ["canonical_url"])
    op.create_index(op.f("ix_articles_text_hash"), "articles", ["text_hash"])


def downgrade() -> None:
    op.drop_table("articles")
    op.drop_table("captures")
    op.drop_table("feed_entries")
    op.drop_table("feeds")
    op.drop_table("crawls")
    op.drop_table("sources")
