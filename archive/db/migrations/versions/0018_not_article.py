"""Pages that are no article get a status of their own (issue #22).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

A page extracted but judged no article (a listing, a list of links: ``archive.ingest.verdict``)
was stored as ``failed``, the reason in ``error``; it is ``not_article`` now, and the ``failed``
count of ``source_counts`` is extraction failures only. Rows stored before are moved by their
error's wording (``NotAnArticle``'s "URL: not an article: REASON").

SQLite cannot alter a CHECK constraint, and rebuilding ``articles`` would copy every text and
drop its triggers and the ``pages`` view. The constraint only widens here (every stored row meets
the new one), a change SQLite's documentation allows by editing the table's definition in the
schema table (https://sqlite.org/lang_altertable.html#otheralter).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from archive.db import sourcecounts

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "status IN ('ok', 'failed')"
_AFTER = "status IN ('ok', 'failed', 'not_article')"


def _check(old: str, new: str) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_articles_status"), "articles", type_="check")
        op.create_check_constraint(op.f("ck_articles_status"), "articles", new)
        return
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        changed = conn.exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'articles' AND instr(sql, ?)",
            (f"CHECK ({old})", f"CHECK ({new})", f"CHECK ({old})"),
        ).rowcount
        conn.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")  # other connections read the new definition
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")
    if changed != 1:
        raise RuntimeError(f"articles: no constraint CHECK ({old}) to change")


def upgrade() -> None:
    _check(_BEFORE, _AFTER)
    op.execute("UPDATE articles SET status = 'not_article' WHERE status = 'failed' AND error LIKE '%: not an article: %'")
    sourcecounts.fill(op.get_bind())


def downgrade() -> None:
    op.execute("UPDATE articles SET status = 'failed' WHERE status = 'not_article'")
    _check(_AFTER, _BEFORE)
    sourcecounts.fill(op.get_bind())
