"""Re-crawling to see edits (#19.3): each article page is fetched again at its source's ``recheck``
times after its first capture, with the stored capture's ETag / Last-Modified. An unchanged page
costs a 304, archived as a revisit record (profile server-not-modified) and no revision; a
changed one is a new capture and one revision with its edits (NewsDiffs-style monitoring).
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.db import catalog, rechecks
from archive.db.embedded import sqlite_url
from archive.db.engine import Database
from archive.db.models import Recheck
from archive.errors import ConfigError
from syndicrawl.cli import cli
from syndicrawl.demo import revisions as demo_revisions
from syndicrawl.demo.blogger import BloggerSite
from syndicrawl.demo.articles import load_demo
from syndicrawl.demo.server import SiteServer
from syndicrawl.sources import RECHECK, load_sources
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.warcs import read_warcs

T0 = datetime(2016, 11, 1, 12, 0, tzinfo=UTC)
NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def _sources(tmp_path: Path, recheck: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\n{recheck}', encoding="utf-8")
    return path


def test_recheck_policy_defaults_to_an_hour_a_day_and_a_week_and_is_read_as_seconds(tmp_path: Path) -> None:
    assert load_sources(_sources(tmp_path, ""))[0].recheck == RECHECK == (3600, 86400, 604800)
    assert load_sources(_sources(tmp_path, 'recheck = ["1w", "30m", "1d", "30m"]'))[0].recheck == (1800, 86400, 604800)
    assert load_sources(_sources(tmp_path, "recheck = []"))[0].recheck == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"1h"', "field 'recheck': must be a list of durations, e.g. [\"1h\", \"1d\", \"1w\"], or [] for none; got '1h'"),
        ("[3600]", "field 'recheck': must be a list of durations, e.g. [\"1h\", \"1d\", \"1w\"], or [] for none; got [3600]"),
        ('["1h", "2x"]', "field 'recheck': '2x': not a duration; use e.g. 45s, 30m, 2h, 1h30m, 1d, 1w"),
        ('["0s"]', "field 'recheck': '0s': must be longer than 0s"),
        ('["600w"]', "field 'recheck': at most 315360000 seconds (ten years)"),
    ],
)
def test_a_bad_recheck_policy_is_one_line_naming_file_source_and_field(tmp_path: Path, value: str, message: str) -> None:
    path = _sources(tmp_path, f"recheck = {value}\n")
    with pytest.raises(ConfigError) as error:
        load_sources(path)
    assert str(error.value) == f"{path}: source #1 'a', {message}"


def test_sources_shows_each_sources_recheck_policy(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\n'
                       '[[source]]\nname = "b"\nkind = "origin"\nfeeds = ["http://y.test/f"]\nrecheck = []\n')
    db = Database(sqlite_url(tmp_path / "d"))
    db.session().close()  # an archive, not crawled yet
    db.dispose()
    data = ("--config", str(sources), "--data-dir", str(tmp_path / "d"))
    listed = CliRunner().invoke(cli, ["sources", "--json", *data])
    assert listed.exit_code == 0, listed.output
    assert [row["recheck_seconds"] for row in json.loads(listed.output)] == [[3600, 86400, 604800], []]
    table = CliRunner().invoke(cli, ["sources", *data], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    rows = {line.split("│")[1].strip(): line for line in table.output.splitlines() if line.startswith("│")}
    assert "│ 1h, 1d, 7d │" in rows["a"] and "│ never      │" in rows["b"]


def test_the_next_recheck_is_the_first_step_not_yet_past() -> None:
    steps = (3600, 86400, 604800)
    assert rechecks.next_at(T0, steps, T0) == T0 + timedelta(hours=1)
    assert rechecks.next_at(T0, steps, T0 + timedelta(hours=1)) == T0 + timedelta(days=1)
    # a page seen late (a recheck that waited, a full crawl) does not make up the steps it passed
    assert rechecks.next_at(T0, steps, T0 + timedelta(days=3)) == T0 + timedelta(weeks=1)
    assert rechecks.next_at(T0, steps, T0 + timedelta(weeks=2)) is None
    assert rechecks.next_at(T0, (), T0) is None


def _capture(db: Database, url: str, at: datetime) -> int:
    with db.writing() as s:
        source = catalog.ensure_source(s, "blog", "origin")
        (capture,) = catalog.add_captures(s, [{
            "source_id": source.id, "url": url, "timestamp": at, "status": 200, "mime": "text/html",
            "warc_file": "blog.warc.gz", "warc_offset": 0, "warc_length": 1,
            "record_id": f"<urn:uuid:{url}-{at.isoformat()}>", "payload_digest": f"sha1:{url}-{at.isoformat()}",
        }])  # fmt: skip
        return capture.id


def test_each_fetch_moves_a_pages_recheck_on_and_a_poll_takes_the_longest_waiting_first(database: Database) -> None:
    steps = (3600, 86400)
    first, second = "http://blog.example/2016/11/first.html", "http://blog.example/2016/11/second.html"
    one, two = _capture(database, first, T0), _capture(database, second, T0 + timedelta(minutes=5))
    with database.writing() as s:
        source_id = catalog.ensure_source(s, "blog", "origin").id
        rechecks.record(s, source_id, steps, [rechecks.Fetch(first, T0, one, '"v1"', "Tue, 01 Nov 2016 12:00:00 GMT"),
                                              rechecks.Fetch(second, T0 + timedelta(minutes=5), two)])
        # a 304 or a 404 of a page never recorded starts nothing
        rechecks.record(s, source_id, steps, [rechecks.Fetch("http://blog.example/other.html", T0, None)])
    with database.session() as s:
        assert rechecks.due(s, "blog", T0 + timedelta(minutes=59)) == []
        due = rechecks.due(s, "blog", T0 + timedelta(hours=2))
        assert due == [rechecks.RecheckPlan(first, one, '"v1"', "Tue, 01 Nov 2016 12:00:00 GMT"),
                       rechecks.RecheckPlan(second, two, None, None)]
        assert rechecks.due(s, "blog", T0 + timedelta(hours=2), limit=1) == due[:1]
        assert rechecks.due(s, "other", T0 + timedelta(hours=2)) == []

    # the first page answers 304: its validators stay; it is next due at its day, the last step
    with database.writing() as s:
        rechecks.record(s, source_id, steps, [rechecks.Fetch(first, T0 + timedelta(hours=1, minutes=1), None)])
    with database.session() as s:
        assert rechecks.due(s, "blog", T0 + timedelta(hours=2)) == due[1:]
        row = s.get(Recheck, rechecks.url_key(first))
        assert row is not None and (row.capture_id, row.etag) == (one, '"v1"')
        assert row.next_at == T0 + timedelta(days=1)

    # the second page changed: the new capture's validators are sent next; after its last step, none
    three = _capture(database, second, T0 + timedelta(days=2))
    with database.writing() as s:
        rechecks.record(s, source_id, steps, [rechecks.Fetch(second, T0 + timedelta(days=2), three, '"v2"')])
        rechecks.postpone(s, [first], T0 + timedelta(days=3))  # the daemon's claim on a poll it starts
    with database.session() as s:
        assert rechecks.due(s, "blog", T0 + timedelta(days=2, hours=1)) == []
        assert rechecks.due(s, "blog", T0 + timedelta(days=3)) == due[:1]
        row = s.get(Recheck, rechecks.url_key(second))
        assert row is not None and (row.capture_id, row.etag, row.next_at) == (three, '"v2"', None)
        assert rechecks.plans(s, [second, "http://blog.example/never.html"]) == [
            rechecks.RecheckPlan(second, three, '"v2"', None),
            rechecks.RecheckPlan("http://blog.example/never.html", None, None, None),
        ]


def _blog(base: str) -> BloggerSite:
    blog, _ = load_demo()
    return BloggerSite(blog.name, blog.posts, base_url=base, tagline=blog.tagline)


def _rows(data: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(data / "syndicrawl.sqlite3")) as db:
        return db.execute(query).fetchall()


def test_a_poll_rechecks_due_pages_with_conditional_get(tmp_path: Path, fast_settings: Path) -> None:
    """The demo blog answers 304 to a matching If-None-Match. Its recheck finds every post
    unchanged; then one post is edited without a note (headline softened, a paragraph cut:
    NewsDiffs' finding), which changes every page's sidebar too, and the posts are rechecked again."""
    data = tmp_path / "data"
    with SiteServer(_blog) as blog:
        sources = write_sources(tmp_path / "sources.toml", [{
            "name": "blog", "kind": "origin", "feeds": [blog.url("/feeds/posts/default")], "recheck": ["1s"],
        }])  # fmt: skip
        poll = ("crawl", "--poll", "--config", str(sources))
        crawled = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=fast_settings)
        assert crawled.returncode == 0, crawled.stderr
        first = dict(_rows(data, "SELECT url, id FROM captures WHERE status = 200 AND url LIKE '%.html'"))
        assert len(first) == 5 and any(demo_revisions.SLUG in url for url in first)  # the feed's five posts

        time.sleep(1.5)  # every page's recheck falls due
        unchanged = run_syndicrawl(*poll, data_dir=data, settings=fast_settings)
        assert unchanged.returncode == 0, unchanged.stderr
        after = _rows(data, f"SELECT url, status, revisit_of FROM captures WHERE id > {max(first.values())} "
                            "AND url LIKE '%.html'")  # fmt: skip
        assert _rows(data, "SELECT count(*) FROM rechecks WHERE next_at IS NOT NULL") == [(0,)]  # its one step done

        blog.site = demo_revisions.edited(blog.site)
        pages = [option for url in first for option in ("--recheck", url)]
        changed = run_syndicrawl(*poll, *pages, "blog", data_dir=data, settings=fast_settings)
        assert changed.returncode == 0, changed.stderr

    # unchanged: a 304 each, stored as a revisit of the capture whose ETag it sent, and no revision
    assert sorted(after) == sorted((url, 304, capture) for url, capture in first.items())
    stored = read_warcs(data / "warcs")
    revisits = [r for r in stored if r.type == "revisit" and r.http_headers and r.http_headers.get_statuscode() == "304"]
    assert len(revisits) == 5 and {r.warc_headers.get_header("WARC-Profile") for r in revisits} == {NOT_MODIFIED}
    assert all(r.body == b"" for r in revisits)
    sent = [r.http_headers.get_header("If-None-Match") for r in stored if r.type == "request" and r.url in first]
    assert sum(etag is not None for etag in sent) == 10  # both rechecks sent it, the crawl did not

    # changed: a capture each, and one revision, the edited post's (the others changed their sidebar only)
    later = _rows(data, f"SELECT url, status FROM captures WHERE id > {max(first.values())} AND url LIKE '%.html'")
    assert sorted(later) == sorted([(url, 304) for url in first] + [(url, 200) for url in first])
    found = run_syndicrawl("revisions", "--changed-since", "2000-01-01", "--json", data_dir=data)
    assert found.returncode == 0, found.stderr
    edited = next(url for url in first if demo_revisions.SLUG in url)
    assert [(row["url"], row["edits"], row["declared"]) for row in json.loads(found.stdout)] == [
        (edited, {"title": 1, "paragraph_dropped": 1}, None)
    ]
