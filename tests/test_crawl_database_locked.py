"""A crawl while another process holds SQLite's write lock longer than the busy timeout.

It logged ``archiving failed: database is locked`` and exited 0 'finished' with captures
missing from the database, their records orphaned in the WARC. Now the writer waits for the
lock (saying so) and stores everything: catalog and WARC agree.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from archive.db.engine import _SQLITE_BUSY_TIMEOUT_MS
from tests.fixtures.cli import write_sources
from tests.warcs import read_warcs

#: Longer than the busy timeout, so that a write that only waits it out fails.
HOLD = _SQLITE_BUSY_TIMEOUT_MS / 1000 + 5

SLOW = """\
[crawl]
download_delay = 0.4
autothrottle = false
download_timeout = 3
[extract]
workers = 1
"""


def rows(db_file: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db_file)) as db:
        return db.execute(sql).fetchall()


def test_captures_wait_for_the_write_lock_and_none_is_lost(tmp_path, wordpress_server) -> None:
    settings = tmp_path / "slow.toml"
    settings.write_text(SLOW)
    sources = write_sources(tmp_path / "sources.toml",
                            [{"name": "gazette", "kind": "repost", "feeds": [wordpress_server.url("/feed/")],
                              "start_urls": [wordpress_server.url("/")]}])
    data = tmp_path / "data"
    db_file = data / "syndicrawl.sqlite3"
    crawl = subprocess.Popen(
        [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--data-dir", str(data),
         "--settings", str(settings)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the writer has its crawl row: fetching begins
            try:
                if db_file.exists() and rows(db_file, "SELECT id FROM crawls"):
                    break
            except sqlite3.OperationalError:  # no tables yet
                pass
            time.sleep(0.05)
        with closing(sqlite3.connect(db_file, timeout=30, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # an analyst's long write, a backup
            time.sleep(HOLD)
            other.execute("ROLLBACK")
        out, err = crawl.communicate(timeout=240)
    finally:
        crawl.kill()
    assert crawl.returncode == 0, err
    assert "archiving failed" not in err and "Traceback" not in err, err
    assert "the database is locked by another process: waiting to write" in err, err
    assert "the database could be written again after " in err, err
    records = read_warcs(data / "warcs")
    archived = {r.warc_headers.get_header("WARC-Record-ID") for r in records if r.type in {"response", "revisit"}}
    catalogued = {record_id for (record_id,) in rows(db_file, "SELECT record_id FROM captures")}
    assert archived == catalogued and len(archived) >= 5
    [(status, pages)] = rows(db_file, "SELECT status, pages FROM crawls")
    assert (status, pages) == ("finished", len(archived))
