"""Leases in the database: a named lock with an expiry, taken in one statement.

SQLAlchemy has no lease primitive and PostgreSQL's advisory locks have no SQLite
counterpart, so this is a small table (``leases``) written with ``INSERT ... ON CONFLICT DO
UPDATE ... WHERE expired``: of two processes racing for a free or lapsed lease exactly one
statement wins, on both backends. Callers pass the clock; ``DatabaseBackend`` is the backend
of ``archive.db.locks`` over these functions.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from archive.db.engine import Database, upsert
from archive.db.locks import Holder
from archive.db.models import Lease

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


def acquire(
    s: Session, name: str, *, token: str, holder: str, pid: int, host: str, now: datetime, expires_at: datetime
) -> Lease:
    """Take lease ``name`` if it is free or lapsed; return whoever holds it now (compare ``token``)."""
    values = {"token": token, "holder": holder, "pid": pid, "host": host, "acquired_at": now, "expires_at": expires_at}
    stmt = upsert(s, Lease).values(name=name, **values)
    s.execute(stmt.on_conflict_do_update(index_elements=[Lease.name], set_=values, where=Lease.expires_at < now))
    return s.execute(select(Lease).where(Lease.name == name).execution_options(populate_existing=True)).scalar_one()


def take_over(
    s: Session, name: str, old_token: str, *, token: str, holder: str, pid: int, host: str, now: datetime,
    expires_at: datetime,
) -> bool:
    """Replace the holder ``old_token`` (known dead) by a new one; False if someone else got there first."""
    result = s.execute(
        update(Lease)
        .where(Lease.name == name, Lease.token == old_token)
        .values(token=token, holder=holder, pid=pid, host=host, acquired_at=now, expires_at=expires_at)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew(s: Session, name: str, token: str, expires_at: datetime) -> bool:
    """Extend a held lease; False if it was lost (it lapsed and another process took it)."""
    result = s.execute(update(Lease).where(Lease.name == name, Lease.token == token).values(expires_at=expires_at))
    return result.rowcount == 1  # type: ignore[attr-defined]


def release(s: Session, name: str, token: str) -> None:
    """Give the lease back, if this token still holds it."""
    s.execute(delete(Lease).where(Lease.name == name, Lease.token == token))


def as_holder(row: Lease) -> Holder:
    return Holder(row.token, row.holder, row.pid, row.host, row.acquired_at.isoformat())


class DatabaseBackend:
    """Leases in the ``leases`` table of the archive database."""

    def __init__(self, url: str, ttl: float) -> None:
        self.db = Database(url)
        self.ttl = timedelta(seconds=ttl)

    def _values(self, me: Holder, now: datetime) -> dict[str, object]:
        return {"token": me.token, "holder": me.purpose, "pid": me.pid, "host": me.host, "now": now,
                "expires_at": now + self.ttl}

    def try_acquire(self, name: str, me: Holder) -> Holder | None:
        with self.db.session() as s, s.begin():
            now = datetime.now(UTC)  # after the first session's schema upgrade, which may take a while
            row = acquire(s, name, **self._values(me, now))  # type: ignore[arg-type]
            if row.token == me.token:
                return None
            current = as_holder(row)
            if current.is_dead() and take_over(s, name, row.token, **self._values(me, now)):  # type: ignore[arg-type]
                logger.info("lock %s: took over from %s, whose process is gone", name, current.describe())
                return None
            return current

    def holder(self, name: str) -> Holder | None:
        with self.db.session() as s:
            row = s.get(Lease, name)
        if row is None or row.expires_at < datetime.now(UTC):
            return None
        current = as_holder(row)
        return None if current.is_dead() else current

    def renew(self, name: str, me: Holder, within: float) -> bool:
        return self.db.renew_first(lambda s: renew(s, name, me.token, datetime.now(UTC) + self.ttl), within)

    def release(self, name: str, me: Holder) -> None:
        with self.db.session() as s, s.begin():
            release(s, name, me.token)

    def close(self) -> None:
        self.db.dispose()
