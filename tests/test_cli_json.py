"""``--json`` on the read commands, ``urls``, and counts that say what they count (pages vs captures)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicrawl.cli import cli
from tests.fixtures.cli import run_syndicrawl, write_sources


@pytest.fixture(scope="module")
def crawled_twice(tmp_path_factory, wordpress_server, fast_settings) -> tuple[Path, Path]:
    """The gazette crawled twice (every page captured twice, a revisit the second time), and scheduled."""
    tmp = tmp_path_factory.mktemp("json")
    sources = write_sources(tmp / "sources.toml", [{"name": "gazette", "kind": "repost",
                                                    "feeds": [wordpress_server.url("/feed/")]}])
    for _ in range(2):
        result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp / "data", settings=fast_settings)
        assert result.returncode == 0, result.stderr
    result = run_syndicrawl("schedule", "add", "gazette", "--every", "30m", "--config", str(sources),
                            data_dir=tmp / "data")
    assert result.returncode == 0, result.stderr
    return tmp / "data", sources


def invoke(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _is_utc_time(value: object) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value).utcoffset() is not None


def test_stats_counts_pages_once_and_every_capture(crawled_twice) -> None:
    """Three pages crawled twice were "6 articles"; now 3 pages, and the captures of both crawls."""
    data, _ = crawled_twice
    [row] = invoke("stats", "--json", "--data-dir", str(data))
    assert (row["source"], row["kind"], row["pages"], row["failed_extractions"], row["feeds"]) == (
        "gazette", "repost", 3, 0, 1)
    assert row["captures"] % 2 == 0 and row["captures"] >= 2 * 4  # robots.txt, the feed, 3 pages: each twice
    assert row["warc_bytes"] > 0 and row["last_crawl_status"] == "finished"
    assert _is_utc_time(row["last_crawl_started"]) and _is_utc_time(row["last_crawl_finished"])
    result = CliRunner().invoke(cli, ["stats", "--data-dir", str(data)], terminal_width=200)
    header = result.output.splitlines()[1]
    assert [cell.strip() for cell in header.strip("┃ ").split("┃")][:5] == [
        "source", "kind", "pages", "captures", "failed extractions"]


def test_sources_json_lists_each_configured_source(crawled_twice) -> None:
    data, sources = crawled_twice
    [row] = invoke("sources", "--json", "--config", str(sources), "--data-dir", str(data))
    assert row["source"] == "gazette" and row["feeds"][0].endswith("/feed/") and row["sitemaps"] == []
    assert (row["pages"], row["last_crawl_status"]) == (3, "finished")


def test_captures_and_snapshot_list_json(crawled_twice, wordpress_server) -> None:
    data, _ = crawled_twice
    url = wordpress_server.site.permalink(wordpress_server.site.posts[0])
    rows = invoke("captures", url, "--json", "--data-dir", str(data))
    assert [row["type"] for row in rows] == ["response", "revisit"]
    first, second = rows
    assert second["revisit_of"] is not None and first["revisit_of"] is None
    assert first["url"] == url and first["status"] == 200 and first["warc_file"].startswith("gazette-")
    assert first["warc_offset"] >= 0 and first["warc_length"] > 0 and _is_utc_time(first["timestamp"])
    assert invoke("snapshot", url, "--list", "--json", "--data-dir", str(data)) == rows


def test_urls_lists_each_archived_url_once_in_order(crawled_twice, wordpress_server) -> None:
    data, _ = crawled_twice
    result = CliRunner().invoke(cli, ["urls", "--data-dir", str(data)])
    assert result.exit_code == 0
    listed = result.output.splitlines()
    site = wordpress_server.site
    assert listed == sorted(set(listed))
    assert {site.permalink(post) for post in site.posts[:3]} | {wordpress_server.url("/feed/")} <= set(listed)
    rows = invoke("urls", "--json", "--source", "gazette", "--data-dir", str(data))
    assert [row["url"] for row in rows] == listed
    feed = next(row for row in rows if row["url"] == wordpress_server.url("/feed/"))
    assert (feed["source"], feed["captures"]) == ("gazette", 2)
    assert _is_utc_time(feed["first_capture"]) and feed["first_capture"] < feed["last_capture"]


def test_urls_prefix_is_exact(crawled_twice, wordpress_server) -> None:
    """A prefix is matched as given: not as SQL LIKE (no wildcards, case kept)."""
    data, _ = crawled_twice
    prefix = wordpress_server.url("/feed")
    assert [row["url"] for row in invoke("urls", "--json", "--prefix", prefix, "--data-dir", str(data))] == [
        wordpress_server.url("/feed/")]
    for other in (prefix.upper(), wordpress_server.url("/fee_"), wordpress_server.url("/%")):
        assert invoke("urls", "--json", "--prefix", other, "--data-dir", str(data)) == []


def test_urls_of_an_unknown_source_is_one_error_line(crawled_twice) -> None:
    data, _ = crawled_twice
    result = CliRunner().invoke(cli, ["urls", "--source", "gazete", "--data-dir", str(data)])
    assert result.exit_code == 1
    assert result.output == f"Error: --source gazete: no such source in sqlite:///{data.resolve()}/syndicrawl.sqlite3\n"


def test_clusters_feeds_and_schedules_json(crawled_twice, wordpress_server) -> None:
    data, sources = crawled_twice
    assert invoke("clusters", "--json", "--data-dir", str(data)) == []  # one site: no copies
    [schedule] = invoke("schedule", "list", "--json", "--data-dir", str(data))
    assert schedule["source"] == "gazette" and schedule["schedule"] == "every 30m" and schedule["paused"] is False
    assert _is_utc_time(schedule["next_run"]) and schedule["last_run"] is None
    assert schedule["sources_file"] == str(sources.absolute())
    feeds = invoke("feeds", "status", "--json", "--data-dir", str(data))
    [feed] = feeds
    assert (feed["source"], feed["feed"], feed["errors"]) == ("gazette", wordpress_server.url("/feed/"), 0)
    assert _is_utc_time(feed["last_success"]) and feed["conditional_get"] in {"unverified", "no validators"}


def test_schedule_add_replace_changes_a_schedule(crawled_twice) -> None:
    """A schedule could only be removed and added again; --replace changes it in place."""
    data, sources = crawled_twice
    result = CliRunner().invoke(cli, ["schedule", "add", "gazette", "--every", "1h", "--config", str(sources),
                                      "--data-dir", str(data)])
    assert (result.exit_code, result.output) == (
        1, "Error: source 'gazette' already has a schedule (every 30m); give --replace to change it\n")
    for every in ("1h", "30m"):
        result = CliRunner().invoke(cli, ["schedule", "add", "gazette", "--every", every, "--replace",
                                          "--config", str(sources), "--data-dir", str(data)])
        assert result.exit_code == 0 and result.output.startswith(f"Scheduled gazette: every {every};")
        [schedule] = invoke("schedule", "list", "--json", "--data-dir", str(data))
        assert schedule["schedule"] == f"every {every}"


def test_echo_json_streams_an_array_and_writes_times_with_their_zone(capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, timedelta, timezone

    from syndicrawl.cli.rows import echo_json

    echo_json(iter([]))
    assert capsys.readouterr().out == "[]\n"
    echo_json({"a": 1} for _ in range(2))
    assert capsys.readouterr().out == '[\n{"a": 1},\n{"a": 1}\n]\n'
    naive, paris = datetime(2016, 11, 1, 12, 0), datetime(2016, 11, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    echo_json({"naive": naive, "paris": paris, "utc": naive.replace(tzinfo=UTC)})
    assert json.loads(capsys.readouterr().out) == {
        "naive": "2016-11-01T12:00:00+00:00", "paris": "2016-11-01T13:00:00+01:00", "utc": "2016-11-01T12:00:00+00:00"}


def test_pages_and_archived_urls_on_each_database(database) -> None:
    """The queries behind stats' pages and `urls`, on SQLite and PostgreSQL: a page captured three times
    is one page, three captures; a prefix is exact (SQLite's LIKE ignores case, PostgreSQL's does not)."""
    from datetime import UTC, timedelta

    from archive.db import catalog
    from tests.test_archive_db import _capture

    at = datetime(2016, 11, 1, 12, tzinfo=UTC)
    with database.session() as s, s.begin():
        rbn = catalog.ensure_source(s, "rbn", "repost")
        blog = catalog.ensure_source(s, "blog", "origin")
        for day in range(3):
            capture = catalog.add_capture(s, **_capture(rbn, "https://rbn.example/a", at + timedelta(days=day)))
            catalog.add_article(s, capture_id=capture.id, url=capture.url, text="text", status="ok")
        failed = catalog.add_capture(s, **_capture(rbn, "https://rbn.example/b_%", at))
        catalog.add_article(s, capture_id=failed.id, url=failed.url, text="", status="failed")
        catalog.add_capture(s, **_capture(blog, "https://rbn.example/a", at, record_id="<urn:uuid:blog>"))
    with database.session() as s:
        summary = {row.name: row for row in catalog.source_summaries(s)}["rbn"]
        assert (summary.pages, summary.articles, summary.captures, summary.failed) == (1, 3, 4, 1)
        rows = list(catalog.archived_urls(s))
        assert [(row.url, row.source, row.captures) for row in rows] == [
            ("https://rbn.example/a", "blog", 1), ("https://rbn.example/a", "rbn", 3), ("https://rbn.example/b_%", "rbn", 1)]
        a = rows[1]
        assert (a.first_capture, a.last_capture) == (at, at + timedelta(days=2))
        assert [row.url for row in catalog.archived_urls(s, source="rbn", prefix="https://rbn.example/b_")] == [
            "https://rbn.example/b_%"]
        for prefix in ("https://rbn.example/B", "https://rbn.example/%", "https://rbn.example/_"):
            assert list(catalog.archived_urls(s, prefix=prefix)) == []
