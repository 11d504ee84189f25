"""A crawl killed with SIGKILL (its whole process group, writer included) mid-way, then
``syndicrawl doctor``: after 20 kill -9s, most capture rows pointed into ``.open`` files, ``index
rebuild`` left them out and ``export wacz`` refused. Now the dry run reports and changes nothing,
the repair leaves every WARC whole and every row readable, and a second crawl fills what was lost
without a duplicate, compared with a crawl that was never interrupted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from archive.warc.records import read_record, verify_file
from syndicrawl import exitcodes
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import BloggerSite, Post
from tests.fixtures.cli import run_syndicrawl, write_sources

POSTS = 60
SETTINGS = """\
[crawl]
download_delay = 0.05
autothrottle = false
download_timeout = 3
[extract]
workers = 1
"""


def site(base: str) -> BloggerSite:
    start = datetime.fromisoformat("2016-10-01T07:00:00+01:00")
    posts = [
        Post(f"note-{n}", f"Allotment note {n}", "Ruth Marsh", start + timedelta(hours=n), None,
             "".join(f"<p>Note {n}, paragraph {p}: {'the beans and the frost ' * 12}</p>" for p in range(4)))
        for n in range(POSTS)
    ]  # fmt: skip
    return BloggerSite("Ruth's Allotment Diary", posts, base_url=base, tagline="Plot 14", per_page=5)


def query(db_file: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as db:
        return db.execute(sql).fetchall()


def state(data: Path) -> tuple[dict[str, int], list[tuple]]:
    """Every file's size and every catalogued row: what a dry run must leave as it is."""
    files = {str(p.relative_to(data)): p.stat().st_size for p in data.rglob("*") if p.is_file() and "sqlite3" not in p.name}
    rows = query(data / "syndicrawl.sqlite3", "SELECT * FROM captures ORDER BY id") + query(
        data / "syndicrawl.sqlite3", "SELECT * FROM crawls ORDER BY id")  # fmt: skip
    return files, rows


def pages(data: Path) -> Counter[str]:
    """URLs of the full (non-revisit) 200 responses archived: a page stored twice counts twice."""
    return Counter(url for (url,) in query(data / "syndicrawl.sqlite3",
                                            "SELECT url FROM captures WHERE status = 200 AND revisit_of IS NULL"))  # fmt: skip


@pytest.mark.parametrize("repair_by", ["doctor", "crawl"])
def test_a_crawl_killed_mid_way_is_repaired_and_completed_by_the_next(tmp_path: Path, repair_by: str) -> None:
    """Repaired by ``doctor`` (dry run first), or by the next crawl, which runs the same repair at start."""
    settings = tmp_path / "settings.toml"
    settings.write_text(SETTINGS)
    with SiteServer(site) as server:
        sources = write_sources(tmp_path / "sources.toml", [{"name": "diary", "kind": "origin",
                                "feeds": [server.url("/feeds/posts/default")], "sitemaps": [server.url("/sitemap.xml")]}])  # fmt: skip
        whole = tmp_path / "uninterrupted"
        done = run_syndicrawl("crawl", "--config", str(sources), data_dir=whole, settings=settings)
        assert done.returncode == 0, done.stderr
        expected = pages(whole)
        assert len(expected) > POSTS  # every post, the feeds and the sitemap

        data = tmp_path / "data"
        crawl = subprocess.Popen(
            [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--data-dir", str(data),
             "--settings", str(settings)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # a third of the pages are catalogued, their file still .open
            try:
                if list((data / "warcs").glob("*.open")) and query(data / "syndicrawl.sqlite3",
                                                                   "SELECT count(*) FROM captures")[0][0] > len(expected) // 3:  # fmt: skip
                    break
            except sqlite3.OperationalError:  # no database or no tables yet
                pass
            time.sleep(0.02)
        os.killpg(crawl.pid, signal.SIGKILL)
        crawl.communicate(timeout=60)
        [left_open] = list((data / "warcs").glob("*.open"))
        killed_with = len(pages(data))

        if repair_by == "doctor":
            before = state(data)
            looked = run_syndicrawl("doctor", "--dry-run", data_dir=data)
            assert looked.returncode == exitcodes.UNHEALTHY, looked.stderr
            assert f"{left_open.name}: left open by a crawl whose process is gone: " in looked.stdout, looked.stdout
            assert "crawl 1 of diary: still 'running', but no process crawls it; would be marked interrupted" in looked.stdout
            assert "nothing changed (--dry-run)" in looked.stdout
            assert state(data) == before

            repaired = run_syndicrawl("doctor", data_dir=data)
            assert repaired.returncode == 0, repaired.stdout + repaired.stderr
            assert "renamed to " in repaired.stdout and "Repaired 3 of 3 problems." in repaired.stdout, repaired.stdout
            assert not list((data / "warcs").glob("*.open"))
            assert all(verify_file(path) > 1 for path in (data / "warcs").iterdir())
            for warc_file, offset, length in query(data / "syndicrawl.sqlite3",
                                                   "SELECT warc_file, warc_offset, warc_length FROM captures"):  # fmt: skip
                with read_record(data / "warcs" / warc_file, offset, length) as record:
                    assert record.rec_type in {"response", "revisit"}
            assert query(data / "syndicrawl.sqlite3", "SELECT status FROM crawls") == [("interrupted",)]
            rebuilt = run_syndicrawl("index", "rebuild", data_dir=data)
            assert rebuilt.returncode == 0 and "Indexed 1 WARC files" in rebuilt.stdout, rebuilt.stdout + rebuilt.stderr
            wacz = run_syndicrawl("export", "wacz", "--out", str(tmp_path / "diary.wacz"), data_dir=data)
            assert wacz.returncode == 0 and (tmp_path / "diary.wacz").stat().st_size > 0, wacz.stderr
            assert run_syndicrawl("doctor", data_dir=data).stdout == "Healthy: nothing to repair.\n"

        again = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=settings)
        assert again.returncode == 0, again.stderr
        if repair_by == "crawl":
            assert f"{left_open.name}: left open by a crawl whose process is gone: " in again.stderr, again.stderr
            assert "crawl 1 of diary: still 'running', but no process crawls it; marked interrupted" in again.stderr
            repaired = again
    after = pages(data)
    repair = [line for line in (repaired.stdout + repaired.stderr).splitlines() if "gone" in line]
    print(f"killed with {killed_with} pages catalogued of {len(expected)}; repair:", *repair, sep="\n")
    print(f"after the recrawl {len(after)} pages, {sum(after.values()) - len(after)} stored twice")
    assert set(after) == set(expected)  # none lost
    assert max(after.values()) == 1  # none stored twice: the recrawl stored the same pages as revisits
    assert query(data / "syndicrawl.sqlite3", "SELECT status FROM crawls ORDER BY id") == [("interrupted",), ("finished",)]
    assert not list((data / "warcs").glob("*.open"))
    assert all(verify_file(path) > 1 for path in (data / "warcs").iterdir())
