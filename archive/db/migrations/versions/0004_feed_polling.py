"""Create the scheduler's tables: feed polling state and outcomes, leases, scheduled runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

APScheduler's own job table (``apscheduler_jobs``) is not here: its ``SQLAlchemyJobStore``
owns that table's layout and creates it when the scheduler first opens the database.
Types and names are spelled out, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ERROR_KINDS = "'dns', 'connection', 'timeout', 'http_4xx', 'http_5xx', 'parse', 'blocked', 'process'"


def upgrade() -> None:
    op.create_table(
        "feed_polling",
        sa.Column("feed_id", Id, autoincrement=False, nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.String(64), nullable=True),
        sa.Column("body_sha1", sa.String(40), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_new_entry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_errors", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_kind", sa.String(16), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interval", sa.Float(), nullable=True),
        sa.Column("error_score", sa.Float(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trust", sa.String(16), nullable=False),
        sa.Column("trust_checks", sa.Integer(), nullable=False),
        sa.Column("polls_since_audit", sa.Integer(), nullable=False),
        sa.Column("conditional", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            f"last_error_kind IS NULL OR last_error_kind IN ({ERROR_KINDS})",
            name=op.f("ck_feed_polling_last_error_kind"),
        ),
        sa.CheckConstraint(
            "trust IN ('unverified', 'trusted', 'distrusted')", name=op.f("ck_feed_polling_trust")
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_feed_polling_feed_id_feeds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("feed_id", name=op.f("pk_feed_polling")),
    )
    op.create_index(op.f("ix_feed_polling_next_poll_at"), "feed_polling", ["next_poll_at"])
    op.create_table(
        "feed_poll_outcomes",
        sa.Column("id", Id, nullable=False),
        sa.Column("feed_id", Id, nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error_kind", sa.String(16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retry_after", sa.Float(), nullable=True),
        sa.Column("conditional", sa.Boolean(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=True),
        sa.Column("new_entries", sa.Integer(), nullable=False),
        sa.Column("same_validators", sa.Boolean(), nullable=True),
        sa.Column("same_body", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            f"error_kind IS NULL OR error_kind IN ({ERROR_KINDS})", name=op.f("ck_feed_poll_outcomes_error_kind")
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_feed_poll_outcomes_feed_id_feeds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_poll_outcomes")),
    )
    op.create_index(op.f("ix_feed_poll_outcomes_feed_id"), "feed_poll_outcomes", ["feed_id"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", Id, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("crawl_id", Id, nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'interrupted', 'skipped')",
            name=op.f("ck_schedule_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["crawl_id"], ["crawls.id"], name=op.f("fk_schedule_runs_crawl_id_crawls"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
    )
    op.create_index(op.f("ix_schedule_runs_source"), "schedule_runs", ["source"])


def downgrade() -> None:
    op.drop_table("schedule_runs")
    op.drop_table("leases")
    op.drop_table("feed_poll_outcomes")
    op.drop_table("feed_polling")
