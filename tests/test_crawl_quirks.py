"""One crawl of a misbehaving site, read back from the WARC files and the database.

What lands in the WARC must be what the server sent: the body still gzip-encoded, every
repeated header, chunking removed consistently; robots.txt and scope obeyed; broken feed
entries reported one line each while the rest of the crawl goes on.
"""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.warc.records import verify_file
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.warcs import Record, only, read_warcs


@dataclass
class Crawl:
    result: subprocess.CompletedProcess[str]
    data_dir: Path
    records: list[Record]
    base: str
    offsite_requests: list[str]
    requested: list[str]
    remote_control_jobs: set[str]

    def rows(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(self.data_dir / "syndicrawl.sqlite3") as db:
            return db.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, quirks_server, offsite_server, fast_settings) -> Crawl:
    base = quirks_server.base_url
    quirks_server.clear_requests()
    offsite_server.clear_requests()
    tmp = tmp_path_factory.mktemp("quirks")
    sources = write_sources(
        tmp / "sources.toml",
        [
            {
                "name": "quirks",
                "kind": "unknown",
                "feeds": [f"{base}/feed-broken/", f"{base}/feed.json", f"{base}/atom.xml"],
                "sitemaps": [f"{base}/sitemap-index.xml"],
                "start_urls": [
                    f"{base}/cookies/",
                    f"{base}/redirect-offsite/",
                    f"{base}/redirect-local/",
                    f"{base}/private/secret/",
                    f"{base}/slow/",
                ],
                "allowed_domains": ["127.0.0.1"],
            }
        ],
    )
    data_dir = tmp / "data"
    state = tmp / "state"
    with JobFileWatch(state / "scrapy" / "job_files") as jobs:
        result = run_syndicrawl(
            "crawl", "--config", str(sources), data_dir=data_dir, settings=fast_settings,
            env={"XDG_STATE_HOME": str(state)},
        )  # fmt: skip
    return Crawl(
        result=result,
        data_dir=data_dir,
        records=read_warcs(data_dir / "warcs"),
        base=base,
        offsite_requests=[r.path for r in offsite_server.requests],
        requested=[r.path for r in quirks_server.requests],
        remote_control_jobs=jobs.seen,
    )


class JobFileWatch(threading.Thread):
    """Notes every file that appears in ``directory`` while the with-block runs: Scrapy's remote
    control announces its server there (port and token) for as long as a crawl runs."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        self.directory = directory
        self.seen: set[str] = set()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            if self.directory.is_dir():
                self.seen.update(path.name for path in self.directory.iterdir())

    def __enter__(self) -> JobFileWatch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.join()


def test_the_crawl_opens_no_remote_control_server(crawl: Crawl) -> None:
    # Scrapy 2.19 enables by default an HTTP server that runs Python code sent to it.
    assert crawl.result.returncode == 0, crawl.result.stderr
    assert crawl.remote_control_jobs == set()


def test_crawl_finishes_despite_bad_input(crawl: Crawl) -> None:
    assert crawl.result.returncode == 0, crawl.result.stderr
    assert "quirks │ finished" in crawl.result.stdout


def test_bad_input_is_one_line_each(crawl: Crawl) -> None:
    err = crawl.result.stderr
    assert "Traceback" not in err, err
    assert f"quirks: {crawl.base}/feed-broken/: entry #2 ('An entry without a link') has no link; skipped" in err
    assert f"quirks: {crawl.base}/feed-broken/: entry #3 has an unreadable date 'the day after yesterday'" in err
    assert f"quirks: {crawl.base}/gone/: HTTP 404" in err
    assert f"quirks: {crawl.base}/slow/: " in err  # the download timeout, after one retry
    assert f"quirks: extraction failed: {crawl.base}/huge/: page too large to extract" in err


def test_gzip_body_is_stored_as_sent(crawl: Crawl, quirks_server) -> None:
    record = only(crawl.records, "response", f"{crawl.base}/gzip/article/")
    sent = quirks_server.site.reply_for("/gzip/article/").body
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert record.body == sent  # byte for byte, still compressed
    assert gzip.decompress(record.body).startswith(b"<!DOCTYPE html>")


def test_repeated_headers_are_all_kept(crawl: Crawl) -> None:
    record = only(crawl.records, "response", f"{crawl.base}/cookies/")
    assert header_values(record, "Set-Cookie") == [
        "session=8f14e45f; Path=/; HttpOnly",
        "theme=dark; Path=/; Max-Age=3600",
    ]
    assert header_values(record, "X-Quirk") == ["first", "second"]


def header_values(record: Record, name: str) -> list[str]:
    return [value for key, value in record.http_headers.headers if key.lower() == name.lower()]


def test_chunked_body_is_dechunked_consistently_with_headers(crawl: Crawl, quirks_server) -> None:
    record = only(crawl.records, "response", f"{crawl.base}/chunked/")
    assert record.body == quirks_server.site.reply_for("/chunked/").body  # no chunk-size lines
    assert record.http_headers.get_header("Transfer-Encoding") is None


def test_request_records_pair_with_responses(crawl: Crawl) -> None:
    url = f"{crawl.base}/gzip/article/"
    response = only(crawl.records, "response", url)
    request = only(crawl.records, "request", url)
    assert request.warc_headers.get_header("WARC-Concurrent-To") == response.warc_headers.get_header("WARC-Record-ID")
    assert response.warc_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert response.warc_headers.get_header("WARC-Protocol") == "http/1.1"
    assert response.warc_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
    assert (request.http_headers.protocol, request.http_headers.statusline) == ("GET", "/gzip/article/ HTTP/1.1")
    assert request.http_headers.get_header("Host") == crawl.base.removeprefix("http://")


def test_robots_txt_is_obeyed_and_archived(crawl: Crawl) -> None:
    assert "/robots.txt" in crawl.requested
    assert not [path for path in crawl.requested if path.startswith("/private/")]
    only(crawl.records, "response", f"{crawl.base}/robots.txt")


def test_offsite_redirect_is_recorded_not_followed(crawl: Crawl, offsite_server) -> None:
    record = only(crawl.records, "response", f"{crawl.base}/redirect-offsite/")
    assert record.http_headers.get_statuscode() == "302"
    assert record.http_headers.get_header("Location") == f"{offsite_server.base_url}/landing/"
    assert crawl.offsite_requests == []
    assert crawl.rows("SELECT redirect_to FROM captures WHERE url = ?", f"{crawl.base}/redirect-offsite/") == [
        (f"{offsite_server.base_url}/landing/",)
    ]


def test_every_hop_of_a_local_redirect_is_captured(crawl: Crawl) -> None:
    record = only(crawl.records, "response", f"{crawl.base}/redirect-local/")
    assert record.http_headers.get_statuscode() == "301"
    # the target is fetched once: a start URL that is an article is extracted as one
    only(crawl.records, "response", f"{crawl.base}/gzip/article/")


def test_a_meta_refresh_in_a_long_page_is_followed_and_both_pages_captured(crawl: Crawl) -> None:
    only(crawl.records, "response", f"{crawl.base}/moved/")
    only(crawl.records, "response", f"{crawl.base}/moved-here/")


def test_feeds_of_every_format_are_read(crawl: Crawl) -> None:
    kinds = dict(crawl.rows("SELECT url, kind FROM feeds"))
    assert kinds.items() >= {
        f"{crawl.base}/feed-broken/": "rss",
        f"{crawl.base}/feed.json": "json",
        f"{crawl.base}/atom.xml": "atom",
    }.items()
    entries = crawl.rows(
        "SELECT e.url, e.title, e.published FROM feed_entries e JOIN feeds f ON f.id = e.feed_id WHERE f.url = ?",
        f"{crawl.base}/feed-broken/",
    )
    assert (f"{crawl.base}/gzip/article/", "A good entry", "2016-11-01T10:00:00+00:00") in entries
    assert (f"{crawl.base}/chunked/", "An entry with a garbage date", None) in entries
    assert len(entries) == 3  # the entry without a link is not stored


def test_sitemap_index_and_gzip_sitemap_lead_to_pages(crawl: Crawl) -> None:
    found = {row[0] for row in crawl.rows("SELECT discovered_from FROM captures WHERE url = ?", f"{crawl.base}/huge/")}
    assert found == {f"{crawl.base}/sitemap-a.xml.gz"}


def test_articles_are_extracted_and_failures_recorded(crawl: Crawl) -> None:
    rows = {url: (status, title, error) for url, status, title, error in crawl.rows(
        "SELECT url, status, title, error FROM articles")}
    status, title, _ = rows[f"{crawl.base}/gzip/article/"]
    assert status == "ok" and title
    status, _, error = rows[f"{crawl.base}/huge/"]
    assert status == "failed" and "too large to extract" in error


def test_article_metadata_record_carries_extraction_summary(crawl: Crawl) -> None:
    url = f"{crawl.base}/chunked/"
    metadata = only(crawl.records, "metadata", url)
    response = only(crawl.records, "response", url)
    assert metadata.warc_headers.get_header("WARC-Concurrent-To") == response.warc_headers.get_header("WARC-Record-ID")
    assert metadata.warc_headers.get_header("Content-Type") == "application/warc-fields"
    fields = metadata.fields
    assert fields["source"] == "quirks" and fields["kind"] == "article"
    assert fields.get("feed") in {f"{crawl.base}/feed-broken/", f"{crawl.base}/feed.json", f"{crawl.base}/atom.xml", None}
    assert fields["extraction-title"] and int(fields["extraction-chars"]) > 100
    assert fields["discovered_from"] in {f"{crawl.base}/feed-broken/", f"{crawl.base}/feed.json",
                                         f"{crawl.base}/atom.xml", f"{crawl.base}/sitemap-a.xml.gz"}
    feed_meta = only(crawl.records, "metadata", f"{crawl.base}/feed.json")
    assert feed_meta.fields["kind"] == "feed" and not any(name.startswith("extraction") for name in feed_meta.fields)


def test_every_warc_file_passes_warcio_check_and_index(crawl: Crawl) -> None:
    files = sorted((crawl.data_dir / "warcs").iterdir())
    assert files and all(p.name.endswith(".warc.gz") for p in files)  # no .open left behind
    warcio = Path(sys.executable).parent / "warcio"
    for path in files:
        assert verify_file(path) > 0
        check = subprocess.run([str(warcio), "check", str(path)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        index = subprocess.run([str(warcio), "index", str(path)], capture_output=True, text=True, check=False)
        assert index.returncode == 0 and index.stdout.count("\n") == sum(1 for _ in open_records(path))


def open_records(path: Path):
    from archive.warc.records import iter_records

    return iter_records(path)


def test_captures_in_db_point_at_their_records(crawl: Crawl) -> None:
    from archive.warc.records import read_record

    rows = crawl.rows("SELECT url, warc_file, warc_offset, record_id FROM captures")
    assert len(rows) == len([r for r in crawl.records if r.type in {"response", "revisit"}])
    for url, warc_file, offset, record_id in rows:
        with read_record(crawl.data_dir / "warcs" / warc_file, offset) as record:
            assert record.rec_headers.get_header("WARC-Target-URI") == url
            assert record.rec_headers.get_header("WARC-Record-ID") == record_id
