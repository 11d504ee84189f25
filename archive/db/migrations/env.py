"""Alembic environment for the archive database, driven from ``archive.db.engine``.

``archive.db.engine.upgrade`` passes an open connection in ``config.attributes["connection"]``,
so no ``alembic.ini`` is needed. Migrations run on that connection as it is: on PostgreSQL
its ``search_path`` (for instance ``options=-csearch_path=<schema>`` in the URL) decides
where the tables and the ``alembic_version`` table land, because both are created
unqualified. ``version_table_schema`` is deliberately left unset: setting it would make
autogenerate see the version table as a foreign table in the default schema.

Without a connection (a developer running the ``alembic`` command with a config that sets
``sqlalchemy.url``), an engine is built with ``archive.db.engine.create_engine_for`` so that
SQLite gets the same pragmas as at run time.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import archive.syndication.neardup  # noqa: F401  (its tables join Base.metadata)
from archive.db import fulltext
from archive.db.engine import create_engine_for
from archive.db.models import Base
from archive.errors import ConfigError

target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True, include_name=fulltext.include_name
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the migration SQL for ``sqlalchemy.url`` without connecting (``alembic --sql``)."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        render_as_batch=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on a fresh engine for ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise ConfigError(
            "no connection in config.attributes and no sqlalchemy.url: "
            "run migrations with archive.db.engine.upgrade()"
        )
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
