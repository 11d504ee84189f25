"""The embedded default database: a SQLite file in the data directory.

Apart from ``archive/db/engine.py`` so that settings can name it without loading SQLAlchemy: the
crawl process never opens the database (its archive writer does).
"""

from __future__ import annotations

from pathlib import Path

DB_FILENAME = "syndicrawl.sqlite3"


def sqlite_url(data_dir: Path) -> str:
    """Return the URL of the SQLite database in ``data_dir``.

    The path is made absolute so the URL means the same file whatever the working
    directory of the process that later opens it (scheduler jobs, subprocess crawls).
    """
    return f"sqlite:///{(data_dir.expanduser().absolute() / DB_FILENAME).as_posix()}"
