"""Rewrite the stored URL keys of captures and feed entries as SURT keys.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-25

Both key functions are frozen here rather than imported from ``archive.db.urls``: a
migration must keep meaning what it meant when it was written. On PostgreSQL the capture
key column gets the "C" collation: CDX prefix, host and domain queries are byte-order key
ranges (``com,example)/`` up to ``com,example*``), which a linguistic collation would
reorder, and the (url_key, timestamp) index must be built in that order to serve them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
import surt
from alembic import op
from w3lib.url import canonicalize_url

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("captures", "feed_entries")
_BATCH = 2000


def _surt_key(url: str) -> str:
    return str(surt.surt(url.strip()))


def _w3lib_key(url: str) -> str:
    """The key of revisions 0001-0003: w3lib's canonical URL without fragment or default port."""
    parts = urlsplit(canonicalize_url(url.strip(), keep_fragments=False))
    userinfo, at, hostport = parts.netloc.rpartition("@")
    hostport = hostport.lower()
    default = {"http": ":80", "https": ":443"}.get(parts.scheme.lower())
    if default and hostport.endswith(default):
        hostport = hostport[: -len(default)]
    return urlunsplit((parts.scheme.lower(), f"{userinfo}{at}{hostport}", parts.path or "/", parts.query, ""))


def _rekey(key: Callable[[str], str]) -> None:
    """Recompute every row's key in batches; one UPDATE per batch keeps memory flat on big tables."""
    bind = op.get_bind()
    for name in _TABLES:
        table = sa.table(name, sa.column("id", sa.BigInteger), sa.column("url", sa.Text), sa.column("url_key", sa.Text))
        update = table.update().where(table.c.id == sa.bindparam("row_id")).values(url_key=sa.bindparam("new_key"))
        last = 0
        while True:
            rows = bind.execute(
                sa.select(table.c.id, table.c.url).where(table.c.id > last).order_by(table.c.id).limit(_BATCH)
            ).all()
            if not rows:
                break
            bind.execute(update, [{"row_id": row_id, "new_key": key(url)} for row_id, url in rows])
            last = rows[-1][0]


def _set_capture_key_collation(collation: str | None) -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.batch_alter_table("captures") as batch:
            batch.alter_column("url_key", type_=sa.Text(collation=collation), existing_nullable=False)


def upgrade() -> None:
    _set_capture_key_collation("C")
    _rekey(_surt_key)


def downgrade() -> None:
    _rekey(_w3lib_key)
    _set_capture_key_collation(None)
