"""Engines, sessions and schema upgrades for the metadata database (SQLite or PostgreSQL).

SQLite is the default: one file beside the WARCs, in WAL mode so the CLI can read while a
crawl writes. PostgreSQL serves several crawler processes at once. The schema is managed
only by Alembic (``archive/db/migrations``), driven from here without an ``alembic.ini``.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from sqlalchemy import (
    Column,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    make_url,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from archive.db.embedded import sqlite_url as sqlite_url  # re-exported: what opens the default database
from archive.errors import ConfigError, SyndicrawlError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.pool import ConnectionPoolEntry
    from sqlalchemy.sql.expression import Executable

logger = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Held for the length of an upgrade so that two processes starting on a fresh PostgreSQL
# database (the scheduler and a CLI command) do not both create the tables.
_PG_MIGRATION_LOCK = 0x5359_4E44_4943_5257  # "SYNDICRW"

# Alembic keeps the running migration in process-global proxies (``alembic.context``,
# ``alembic.op``): two upgrades in one process must not overlap, even on different databases.
_ALEMBIC_LOCK = threading.Lock()

_SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Lease renewals of this process waiting for SQLite's write lock (``Database.renew_first``), and
#: ``writing()`` transactions of this process holding it, under the condition that the process's
#: other writers wait on before each ``BEGIN IMMEDIATE``.
_renewals = 0
_writers = 0
_renewals_done = threading.Condition()
#: How long a renewal waits for SQLite's write lock at a time, between two looks at who holds it.
_RENEWAL_TRY_MS = 50
#: While another process holds SQLite's write lock, a writer waiting for it says so this often.
_WRITE_WAIT_REPORT = 60.0
_SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    # NORMAL is durable in WAL mode except for the last transactions before a power cut.
    "PRAGMA synchronous=NORMAL",
    # Reads map the file instead of copying pages into SQLite's cache: a snapshot lookup's
    # index probes cost 25-40% less (address space only; the OS page cache holds the data).
    "PRAGMA mmap_size=1073741824",
)


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the database file to WAL mode, waiting out another process doing the same.

    WAL mode is stored in the file, so this only changes anything on a new database. The
    switch needs an exclusive lock and SQLite reports "database is locked" at once,
    without calling the busy handler, when two processes open a new file together: retry
    until the other one has switched it, within the busy timeout.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _set_sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: the other pragmas may wait for a lock.
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        _enable_wal(cursor)
    finally:
        cursor.close()


def _set_sqlite_read_pragmas(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    """The pragmas of a read-only connection: switching to WAL mode is a write, left to writers."""
    for pragma in _SQLITE_PRAGMAS:
        dbapi_connection.execute(pragma)


def create_engine_for(url: str, *, read_only: bool = False) -> Engine:
    """Create an engine for ``url``; for SQLite, set the pragmas on every new connection.

    The parent directory of a SQLite file is created so a fresh data directory works.
    ``read_only``: a SQLite file is opened with ``mode=ro``, so a reader never creates it or
    writes to it (it may belong to another user); SQLite itself refuses any write. A reader of
    a WAL database needs its ``-shm`` file, which exists while any connection is open: with
    none open and a directory this user cannot write (so cannot create it), no one is writing
    and the file is opened ``immutable``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: the scheduler keeps connections for days; the server may have restarted.
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database
    on_disk = database and database != ":memory:" and not database.startswith("file:")
    if on_disk and read_only:
        path = Path(database).expanduser().absolute()
        shm = path.with_name(path.name + "-shm")
        idle = not shm.exists() and not os.access(path.parent, os.W_OK)
        mode = "mode=ro&immutable=1" if idle else "mode=ro"
        parsed = parsed.set(database=f"file:{quote(path.as_posix())}?{mode}", query={"uri": "true"})
    elif on_disk:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    event.listen(engine, "connect", _set_sqlite_read_pragmas if read_only else _set_sqlite_pragmas)
    return engine


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config  # Alembic is imported when a schema is checked, not before (start-up time)

    config = Config()
    # ConfigParser interpolation would read a "%" in the path as a reference.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` in one transaction, safe against a concurrent upgrade.

    On SQLite, foreign keys are switched off for the upgrade (the pragma is ignored inside
    a transaction, so before it starts): batch mode rebuilds a table by copying and
    dropping it, and dropping with foreign keys on would cascade deletes into the rows
    that reference it. ``foreign_key_check`` then proves the copy kept every reference.
    ``BEGIN IMMEDIATE`` takes the write lock at once, so a second process waits for the
    first to finish instead of failing half way.
    """
    is_sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        try:
            if is_sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            if revision == "head" and not inspect(conn).get_table_names():
                before, after = None, _create_head_schema(conn)
            else:
                before, after = _migrate(conn, revision)
            if is_sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise SyndicrawlError(
                        f"migration to {revision} left rows with dangling foreign keys "
                        f"(table, rowid, parent, fk): {broken[:5]}; rolled back, the database is unchanged"
                    )
            conn.commit()
        finally:
            if conn.in_transaction():
                conn.rollback()
            if is_sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
    if before != after:
        logger.info(
            "upgraded database %s from revision %s to %s",
            engine.url.render_as_string(hide_password=True),
            before,
            after,
        )


def _migrate(conn: Connection, revision: str) -> tuple[str | None, str | None]:
    """Run the migrations from the schema's revision to ``revision``; return both revisions."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    before = MigrationContext.configure(conn).get_current_revision()
    with _ALEMBIC_LOCK:
        command.upgrade(_alembic_config(conn), revision)
    return before, MigrationContext.configure(conn).get_current_revision()


def _create_head_schema(conn: Connection) -> str:
    """Create the head schema on an empty database in one step, stamped with its revision.

    The models' tables are what the migrations build (a test compares the two schemas on
    SQLite and PostgreSQL), so a new data directory skips replaying every migration and
    importing Alembic: 0.05 s instead of 0.5 s before a first crawl. The version table is
    Alembic's own (``alembic_version``, primary key ``alembic_version_pkc``), so later
    upgrades go on from here with Alembic. This is the "create_all, then stamp head" recipe
    of Alembic's cookbook, with the stamp written directly because the head is known.
    """
    from archive.db.models import Base

    Base.metadata.create_all(conn)
    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(conn)
    head = head_revision()
    conn.execute(version.insert().values(version_num=head))
    return head


def head_revision() -> str:
    """The newest migration's revision, from the file names (``0005_surt_keys.py`` is "0005").

    Known without Alembic, whose import costs every command 0.4 s of start-up; a test checks
    that each file is named after its revision and that Alembic agrees on the head.
    """
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


def is_current(engine: Engine) -> bool:
    """Whether the schema is at the head revision (False when it has never been upgraded)."""
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
    except DBAPIError:  # no alembic_version table yet, or no database: upgrade() says which
        return False


def current_revision(engine: Engine) -> str | None:
    """Return the schema's Alembic revision, or None for a database never upgraded."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upsert(s: Session, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of ``model`` supporting ``on_conflict_do_*`` for the session's backend."""
    return _insert(s.get_bind().dialect.name, model)


def _insert(backend: str, model: type[Any] | Table) -> postgresql.Insert | sqlite.Insert:
    if backend == "postgresql":
        return postgresql.insert(model)
    if backend == "sqlite":
        return sqlite.insert(model)
    raise ConfigError(f"unsupported database backend {backend!r}: use a sqlite:// or postgresql+psycopg:// URL")


def upsert_adding(s: Session, table: Table, keys: tuple[str, ...], added: tuple[str, ...]) -> Executable:
    """An INSERT of ``table``'s rows (executed with a list of them) that, where a row with the
    same ``keys`` is stored, adds the new row's ``added`` columns to it: counts kept current.

    Built once a backend and table: ``excluded`` copies the table's columns and their foreign
    keys (each an event listener) every time it is built, ~0.5 ms, more than SQLite's upsert.
    """
    return _upsert_adding(s.get_bind().dialect.name, table, keys, added)


@functools.cache
def _upsert_adding(backend: str, table: Table, keys: tuple[str, ...], added: tuple[str, ...]) -> Executable:
    insert = _insert(backend, table)
    return insert.on_conflict_do_update(
        index_elements=[table.c[key] for key in keys], set_={name: table.c[name] + insert.excluded[name] for name in added}
    )


class Database:
    """The archive database: an engine plus a session factory.

    With ``auto_upgrade`` the schema is brought to head before the first session is
    handed out, so every command works on a fresh data directory without a separate
    ``db upgrade`` step; the check runs once per process. ``read_only`` (read commands)
    writes nothing, not even an upgrade: a schema that is not at head is an error.
    """

    def __init__(self, url: str, *, auto_upgrade: bool = True, read_only: bool = False) -> None:
        self.url = url
        self.engine: Engine = create_engine_for(url, read_only=read_only)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._needs_upgrade = auto_upgrade or read_only
        self._read_only = read_only
        self._upgrade_lock = threading.Lock()

    def session(self) -> Session:
        """Return a new session; use as ``with db.session() as s, s.begin(): ...``.

        ``expire_on_commit=False`` keeps returned objects readable after the block ends.
        """
        self._ensure_schema()
        return self._sessions()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session in a transaction that holds the write lock from its start; committed at the end.

        On SQLite the lock is taken first (``BEGIN IMMEDIATE``), and taken again for as long as
        another process holds it past the busy timeout (a long write, a backup), saying so
        every ``_WRITE_WAIT_REPORT`` seconds: none of the transaction's statements can then
        fail on the lock half way, after the WARC records its rows describe were written. The
        crawl is held back meanwhile (its messages wait in the writer's queue). PostgreSQL
        waits for row locks by itself.
        """
        started, report_at = time.monotonic(), None
        while True:
            with _renewals_done:
                _renewals_done.wait_for(lambda: _renewals == 0)
            s = self.session()
            transaction = s.begin()
            if self.engine.dialect.name != "sqlite":
                break
            try:
                s.connection().exec_driver_sql("BEGIN IMMEDIATE")
                break
            except OperationalError as exc:
                s.close()
                if "locked" not in str(exc.orig):
                    raise
                now = time.monotonic()
                if report_at is None or now >= report_at:
                    logger.warning("the database is locked by another process: waiting to write (%.0f s so far)",
                                   now - started)
                    report_at = now + _WRITE_WAIT_REPORT
        if report_at is not None:
            logger.warning("the database could be written again after %.0f s", time.monotonic() - started)
        global _writers
        with _renewals_done:
            _writers += 1
        try:
            with s, transaction:
                yield s
        finally:
            with _renewals_done:
                _writers -= 1

    def renew_first(self, work: Callable[[Session], T], within: float) -> T:
        """Run a lease renewal, ``work``, in a transaction of its own, before this process's other writes.

        SQLite's busy handler is no queue: it sleeps up to 100 ms between tries, and a writer
        that commits and begins again at once wins every time (a crawl's writer lost its lock
        after 90 s of failed renewals). While this waits, the process's ``writing()`` waits for
        it. The wait is unbounded while one of this process's own transactions holds the lock
        (no other process can take a lease meanwhile: that is a write too), and ``within``
        seconds otherwise: then another process holds the database. On PostgreSQL ``within``
        is the lock and statement timeout.
        """
        if self.engine.dialect.name != "sqlite":
            milliseconds = max(1, int(within * 1000))
            with self.session() as s, s.begin():
                s.connection().exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
                s.connection().exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
                return work(s)
        global _renewals
        deadline = time.monotonic() + within
        with _renewals_done:
            _renewals += 1
        try:
            while True:
                s = self.session()
                transaction = s.begin()
                conn = s.connection()
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {_RENEWAL_TRY_MS}")
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                except OperationalError as exc:
                    s.close()
                    if "locked" not in str(exc.orig) or (time.monotonic() >= deadline and not _writers):
                        raise
                    continue
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
                with s, transaction:
                    return work(s)
        finally:
            with _renewals_done:
                _renewals -= 1
                _renewals_done.notify_all()

    def connect(self) -> Connection:
        """Return a Core connection, for lookups that read rows and need no ORM objects.

        A snapshot or CDX lookup is a few index probes; a session around it costs about as
        much again. Use as ``with db.connect() as conn: ...``.
        """
        self._ensure_schema()
        return self.engine.connect()

    def _ensure_schema(self) -> None:
        if self._needs_upgrade:
            with self._upgrade_lock:
                if self._needs_upgrade:
                    if not is_current(self.engine):
                        if self._read_only:
                            raise self._not_current()
                        upgrade(self.engine)
                    self._needs_upgrade = False

    def _not_current(self) -> SyndicrawlError:
        shown = make_url(self.url).render_as_string(hide_password=True)
        revision = current_revision(self.engine)
        if revision is None:
            return SyndicrawlError(f"no syndicrawl archive in the database {shown}")
        return SyndicrawlError(
            f"the database {shown} is at schema revision {revision}, this syndicrawl reads {head_revision()}: "
            "run `syndicrawl db upgrade`"
        )

    def dispose(self) -> None:
        """Close every pooled connection (call before a process exits or forks)."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """``with Database(url) as db:`` disposes of the connections at the end (one CLI command)."""
        self.dispose()
