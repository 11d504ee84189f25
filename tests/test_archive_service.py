"""The archive writer process (archive/service.py) on its own, through its pipes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from archive.embedded import DB_FILENAME, sqlite_url
from archive.messages import ArchiveConfig, dump


def test_a_writer_whose_crawl_is_gone_records_the_crawl_and_exits_quietly(tmp_path: Path) -> None:
    """Ctrl-C as a crawl starts ends the crawl process before its writer reports anything:
    the writer must not die of the closed reply pipe (it printed two tracebacks)."""
    config = ArchiveConfig(
        db_url=sqlite_url(tmp_path), warc_dir=tmp_path / "warcs", warc_max_size=10**9, software="test",
        index_dir=tmp_path / "indexes", sources=(("blog", "origin"),),
    )  # fmt: skip
    messages, to_writer = os.pipe()
    from_writer, replies = os.pipe()
    for data in dump(config):
        os.write(to_writer, data)
    os.close(to_writer)  # the crawl sent its configuration and ended
    os.close(from_writer)  # ... and nobody reads the writer's replies

    result = subprocess.run(
        [sys.executable, "-c", f"from archive.service import main; main({messages}, {replies})"],
        pass_fds=(messages, replies), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        assert db.execute("SELECT status FROM crawls").fetchall() == [("interrupted",)]
