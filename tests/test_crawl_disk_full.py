"""A crawl whose WARC disk fills up (#17: pages lost to archive writes must not pass for a success).

The writer failed to store pages (disk full, a WARC write error, a database error on a batch),
counted an error and the crawl exited 0 'finished'. Now it counts the pages not stored, per
source, says so, exits 4, and the next poll fetches them again: their feed entries were
stored with the feed, but an entry counts as archived only once its page has a capture.

The failure is real: the crawl runs in a mount namespace of its own (``unshare -m``) with a
32 KiB tmpfs on ``warcs/``, which fills half way. Skipped where no mount namespace can
be made.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from syndicrawl import exitcodes
from tests.fixtures.cli import FAST_SETTINGS, run_syndicrawl, write_sources
from tests.warcs import read_warcs

ENTRIES = 40
#: Room for the feed and about half of its pages (1.2 KB each in the WARC), not for 40.
DISK = "32k"


def _mount_namespace_problem() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare command"
    done = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True, check=False)
    return done.stderr.strip() or None if done.returncode else None


_UNAVAILABLE = _mount_namespace_problem()
pytestmark = pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"no mount namespace for a tiny tmpfs: {_UNAVAILABLE}")

#: In the namespace: a full-able disk on warcs/, the crawl, then what the disk holds copied to the real warcs/.
ON_SMALL_DISK = """\
warcs="$1"; saved="$2"; shift 2
mkdir -p "$warcs" "$saved" && mount -t tmpfs -o size=%s tmpfs "$warcs" || exit 99
"$@"; rc=$?
cp -a "$warcs"/. "$saved"/ && umount "$warcs" && cp -a "$saved"/. "$warcs"/ || exit 98
exit $rc
""" % DISK


def rows(db_file: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db_file)) as db:
        return db.execute(sql).fetchall()


def test_pages_not_stored_are_counted_exit_4_and_are_fetched_by_the_next_poll(tmp_path, feed_server_factory) -> None:
    server = feed_server_factory()
    server.site.entries = ENTRIES
    sources = write_sources(tmp_path / "sources.toml",
                            [{"name": "harbour", "kind": "origin", "feeds": [server.url("/feed.xml")]}])  # fmt: skip
    settings = tmp_path / "settings.toml"
    # Spaced out, so that the writer stores pages in several batches (one a second, ``LINGER``): the
    # first ones fit, a later one fills the disk. A batch that fails is lost whole.
    settings.write_text(FAST_SETTINGS.replace("download_delay = 0.0", "download_delay = 0.25"), encoding="utf-8")
    data = tmp_path / "data"
    crawl = [sys.executable, "-m", "syndicrawl", "crawl", "--poll", "--config", str(sources),
             "--data-dir", str(data), "--settings", str(settings)]  # fmt: skip

    full = subprocess.run(["unshare", "-m", "sh", "-c", ON_SMALL_DISK, "sh", str(data / "warcs"), str(tmp_path / "saved"),
                           *crawl], capture_output=True, text=True, timeout=240, check=False)  # fmt: skip

    assert full.returncode == exitcodes.PARTLY_FAILED, full.stderr
    assert "No space left on device" in full.stderr
    [lost_line] = [line for line in full.stderr.splitlines() if "pages fetched but not stored" in line]
    lost = int(lost_line.split("harbour: ", 1)[1].split()[0])
    assert "not stored" in full.stdout  # the summary's column
    db_file = data / "syndicrawl.sqlite3"
    posts = "SELECT url FROM captures WHERE url LIKE '%/post/%'"
    stored = {url for (url,) in rows(db_file, posts)}
    assert 0 < lost and len(stored) + lost == ENTRIES, (lost, len(stored))  # robots.txt and the feed came first
    assert len(rows(db_file, "SELECT url FROM feed_entries")) == ENTRIES  # the feed itself was stored whole
    # The pages stored kept their articles, though their metadata records no longer fitted.
    assert rows(db_file, "SELECT count(*) FROM articles WHERE status = 'ok'") == [(len(stored),)]

    again = run_syndicrawl("crawl", "--poll", "--config", str(sources), data_dir=data, settings=settings)

    assert again.returncode == 0, again.stderr
    refetched = [path for a in server.site.answers if (path := a.path).startswith("/post/")]
    assert len(refetched) == ENTRIES + lost  # the lost ones once more, no other
    captured = [url for (url,) in rows(db_file, posts)]
    assert sorted(captured) == sorted({server.url(f"/post/{n}/") for n in range(1, ENTRIES + 1)})  # each once
    assert rows(db_file, "SELECT count(*) FROM articles WHERE status = 'ok'") == [(ENTRIES,)]
    records = read_warcs(data / "warcs")
    archived = {r.warc_headers.get_header("WARC-Record-ID") for r in records if r.type in {"response", "revisit"}}
    catalogued = {record_id for (record_id,) in rows(db_file, "SELECT record_id FROM captures")}
    assert archived == catalogued
