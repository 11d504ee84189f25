"""Transaction-level advisory locks on PostgreSQL: writers of several machines taking turns on a key.

SQLite needs none: its one writer holds the whole database for the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Keys are taken in ascending order (unnest keeps the array's), so two transactions whose key
#: sets overlap wait for each other instead of deadlocking.
_LOCK = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k")


def lock_keys(s: Session, keys: Iterable[int]) -> None:
    """Hold a lock on each of ``keys`` (64-bit integers) until ``s``'s transaction ends."""
    if s.get_bind().dialect.name != "postgresql":
        return
    ordered = sorted({int(key) for key in keys})
    if ordered:
        s.execute(_LOCK, {"keys": ordered})
