"""``syndicrawl db``: the metadata database's schema."""

from __future__ import annotations

from archive.db.engine import Database, current_revision, upgrade
from syndicrawl.cli import cli, settings_options, stdout
from syndicrawl.settings import Settings


@cli.group()
def db() -> None:
    """Manage the metadata database (SQLite in the data directory, or $SYNDICRAWL_DATABASE_URL)."""


@db.command("upgrade")
@settings_options
def db_upgrade(settings: Settings) -> None:
    """Apply the schema migrations (crawl, import and the scheduler do too; read commands never do).

    Example: syndicrawl db upgrade --data-dir syndicrawl-demo
    """
    with Database(settings.db_url, auto_upgrade=False) as database:
        before = current_revision(database.engine)
        upgrade(database.engine)
        after = current_revision(database.engine)
    if before == after:
        stdout.print(f"Database is up to date (revision {after}).")
    else:
        stdout.print(f"Database upgraded from {before or 'empty'} to revision {after}.")
