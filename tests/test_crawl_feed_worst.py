"""The worst feeds and sitemaps the fuzz (tests/test_feed_parsing.py) found, in a real crawl on loopback.

Each was a traceback in the spider or the archive writer before: a JSON Feed date past year 9999
in UTC (OverflowError), a lone surrogate in a title (the writer's insert failed), a 3,000-character
link (PostgreSQL cannot index it), a truncated gzip sitemap. Now each bad feed or entry is one
warning line naming its URL, and the good entries around them are crawled and stored.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator

import pytest

from syndicrawl.demo.base import Reply
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import wordpress_site
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS, FixedSite

XML = (("Content-Type", "application/xml"),)


def worst_site(base: str) -> FixedSite:
    blog = wordpress_site("Worst", WORDPRESS_POSTS[:4], base_url=base)
    first, second, third, fourth = (blog.permalink(post) for post in WORDPRESS_POSTS[:4])
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": ["not", "a", "title"],
        "items": [
            True,
            {"id": {"x": 1}, "url": first, "title": "Caf\x00\ud800", "date_published": "9999-12-31T23:59:59-12:00"},
            {"id": "long", "url": f"{base}/{'a' * 3000}"},
            {"id": "2", "url": second, "authors": "nobody", "date_modified": ["2021"]},
        ],
    }
    truncated = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut</title>'
        f"<item><title>Third</title><link>{third}</link></item><item><title>Fou"
    )
    sitemap = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{fourth}</loc><lastmod>2021-13-45T99:00</lastmod></url></urlset>"
    )
    replies = {
        "/robots.txt": Reply(200, (("Content-Type", "text/plain"),), b""),
        "/worst.json": Reply(200, (("Content-Type", "application/feed+json"),), json.dumps(json_feed).encode()),
        "/cut.xml": Reply(200, (("Content-Type", "application/rss+xml"),), truncated.encode()),
        "/cut-sitemap.xml.gz": Reply(200, XML, gzip.compress(sitemap.encode())[:25]),
        "/lastmod.xml": Reply(200, XML, sitemap.encode()),
    }
    return FixedSite(replies, fallback=blog)


@pytest.fixture(scope="module")
def worst_server() -> Iterator[SiteServer[FixedSite]]:
    with SiteServer(worst_site) as server:
        yield server


def test_the_worst_feeds_are_one_line_each_and_their_good_entries_stored(
    tmp_path_factory, worst_server, fast_settings
) -> None:
    base = worst_server.base_url
    blog = worst_server.site.fallback
    first, second, third, fourth = (blog.permalink(post) for post in WORDPRESS_POSTS[:4])
    tmp = tmp_path_factory.mktemp("worst")
    sources = write_sources(tmp / "sources.toml", [{
        "name": "worst", "kind": "origin", "feeds": [f"{base}/worst.json", f"{base}/cut.xml"],
        "sitemaps": [f"{base}/cut-sitemap.xml.gz", f"{base}/lastmod.xml"],
    }])
    data_dir = tmp / "data"
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data_dir, settings=fast_settings)
    err = result.stderr
    assert result.returncode == 0, err
    assert "Traceback" not in err and "Spider error" not in err and " ERROR " not in err, err
    warnings = [line.split(" WARNING ", 1)[1] for line in err.splitlines() if " WARNING " in line]
    long_link = [w for w in warnings if w.startswith(f"worst: {base}/worst.json: entry #3 links to 'http://")]
    assert len(long_link) == 1 and long_link[0].endswith("': longer than 2048 characters; skipped")
    assert len(long_link[0]) < 300  # the link shown cut short
    assert {
        f"worst: {base}/worst.json: entry #1 has no url; skipped",
        f"worst: {base}/worst.json: entry #2 has an unreadable date '9999-12-31T23:59:59-12:00'",
        f"worst: {base}/cut.xml: entry #2 ('untitled') has no link; skipped",  # the half item at the cut
    } <= set(warnings), warnings
    assert any(w.startswith(f"worst: {base}/cut.xml: malformed feed (") for w in warnings), warnings
    assert any(w.startswith(f"worst: {base}/cut-sitemap.xml.gz: unreadable sitemap (") for w in warnings), warnings
    assert len(warnings) == 6, warnings
    with sqlite3.connect(data_dir / "syndicrawl.sqlite3") as db:
        entries = dict(db.execute("SELECT url, title FROM feed_entries"))
        articles = {url for (url,) in db.execute("SELECT url FROM articles WHERE status = 'ok'")}
    assert entries == {first: "Caf?", second: None, third: "Third"}
    assert articles == {first, second, third, fourth}
