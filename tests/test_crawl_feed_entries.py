"""A feed's bad entries and an empty feed are one warning line each; the good entries around them are crawled."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syndicrawl.demo.base import Reply
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import wordpress_site
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS, FixedSite

RSS = "application/rss+xml; charset=UTF-8"


def _rss(base: str, links: list[str | None]) -> bytes:
    items = "".join(
        f"<item><title>Entry {n}</title>{'' if link is None else f'<link>{link}</link>'}</item>\n"
        for n, link in enumerate(links, 1)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Mixed</title><link>{base}/</link>\n{items}</channel></rss>'.encode()


def feeds_site(base: str) -> FixedSite:
    blog = wordpress_site("Feeds", WORDPRESS_POSTS[:3], base_url=base)
    first, second, third = (blog.permalink(post) for post in WORDPRESS_POSTS[:3])
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Mixed JSON",
        "items": [{"id": "1", "url": 42}, {"id": "2", "url": "http://[::1/"}, {"id": "3", "url": third}],
    }
    replies = {
        "/robots.txt": Reply(200, (("Content-Type", "text/plain"),), b""),
        "/mixed.xml": Reply(200, (("Content-Type", RSS),), _rss(
            base, [first, None, "javascript:void(0)", "http://127.0.0.1:99999/x", second]
        )),
        "/empty.xml": Reply(200, (("Content-Type", RSS),), b""),
        "/feed.json": Reply(200, (("Content-Type", "application/feed+json"),), json.dumps(json_feed).encode()),
    }
    return FixedSite(replies, fallback=blog)


@pytest.fixture(scope="module")
def feeds_server() -> Iterator[SiteServer[FixedSite]]:
    with SiteServer(feeds_site) as server:
        yield server


@dataclass
class Crawl:
    result: subprocess.CompletedProcess[str]
    data_dir: Path

    def rows(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(self.data_dir / "syndicrawl.sqlite3") as db:
            return db.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, feeds_server, fast_settings) -> Crawl:
    base = feeds_server.base_url
    tmp = tmp_path_factory.mktemp("feed-entries")
    sources = write_sources(
        tmp / "sources.toml",
        [{"name": "mixed", "kind": "origin", "feeds": [f"{base}/mixed.xml", f"{base}/empty.xml", f"{base}/feed.json"]}],
    )
    data_dir = tmp / "data"
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data_dir, settings=fast_settings)
    return Crawl(result, data_dir)


def test_bad_entries_and_an_empty_feed_are_one_warning_line_each(crawl: Crawl, feeds_server) -> None:
    base = feeds_server.base_url
    err = crawl.result.stderr
    assert crawl.result.returncode == 0, err
    assert "Traceback" not in err and "Spider error" not in err, err
    warnings = [line.split(" WARNING ", 1)[1] for line in err.splitlines() if " WARNING " in line]
    assert sorted(warnings) == sorted([
        f"mixed: {base}/mixed.xml: entry #2 ('Entry 2') has no link; skipped",
        f"mixed: {base}/mixed.xml: entry #3 links to 'javascript:void(0)': not an http(s) URL; skipped",
        f"mixed: {base}/mixed.xml: entry #4 links to 'http://127.0.0.1:99999/x': bad port (give a number 1-65535); skipped",
        f"mixed: {base}/empty.xml: not a feed (empty body)",
        f"mixed: {base}/feed.json: entry #1 links to 42: not an http(s) URL; skipped",
        f"mixed: {base}/feed.json: entry #2 links to 'http://[::1/': not an http(s) URL; skipped",
    ])
    assert "│ mixed  │ finished │" in crawl.result.stdout and crawl.result.stdout.count("│      6 │") == 1


def test_the_good_entries_around_bad_ones_are_stored_and_crawled(crawl: Crawl, feeds_server) -> None:
    blog = feeds_server.site.fallback
    first, second, third = (blog.permalink(post) for post in WORDPRESS_POSTS[:3])
    entries = crawl.rows(
        "SELECT f.url, e.url FROM feed_entries e JOIN feeds f ON f.id = e.feed_id ORDER BY e.id"
    )
    base = feeds_server.base_url
    assert sorted(entries) == sorted([(f"{base}/mixed.xml", first), (f"{base}/mixed.xml", second),
                                      (f"{base}/feed.json", third)])
    articles = {url for (url,) in crawl.rows("SELECT url FROM articles WHERE status = 'ok'")}
    assert articles == {first, second, third}
