"""A poll's scope and its refusals (#17.11): the same as its source's crawl.

A poll (``crawl --poll``, the daemon's) keeps only a source's feeds; its scope's ports were
those of the feeds alone, so a feed whose entries are on its site's own port (a start URL's)
saw every entry refused ("port N is not the source's"). And a feed on an address the crawl
refuses (loopback here, for a source that does not allow it) was recorded as a "connection"
error, as if the server were down: it has its own kind, "address", in ``feeds status``.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

from syndicrawl import exitcodes
from syndicrawl.demo.base import Reply
from syndicrawl.demo.server import SiteServer
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import FixedSite, wordpress_site

HTML = (("Content-Type", "text/html; charset=utf-8"),)


def _article(n: int) -> bytes:
    words = " ".join(f"tide{n} harbour report word{k}" for k in range(60))
    return (f"<!DOCTYPE html><html><head><title>Post {n}</title></head><body><article><h1>Post {n}</h1>"
            f"<p>{words}.</p></article></body></html>").encode()  # fmt: skip


def _site(base: str) -> FixedSite:
    replies = {f"/post/{n}/": Reply(200, HTML, _article(n)) for n in (1, 2)}
    return FixedSite(replies, fallback=wordpress_site("Harbour", [], base_url=base))


def _feed_site(site_base: str):  # type: ignore[no-untyped-def]
    items = "".join(f"<item><title>Post {n}</title><link>{site_base}/post/{n}/</link></item>" for n in (1, 2))
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour</title>{items}</channel></rss>'.encode()

    def build(base: str) -> FixedSite:
        return FixedSite({"/feed.xml": Reply(200, (("Content-Type", "application/rss+xml"),), rss)},
                         fallback=wordpress_site("Feeds", [], base_url=base))  # fmt: skip

    return build


def test_a_poll_keeps_its_sources_ports_and_names_a_refused_address(tmp_path, fast_settings) -> None:
    with SiteServer(_site) as site, SiteServer(_feed_site(site.base_url)) as feeds:
        sources = write_sources(tmp_path / "sources.toml", [
            {"name": "harbour", "kind": "origin", "start_urls": [site.url("/")], "feeds": [feeds.url("/feed.xml")]},
            {"name": "guarded", "kind": "origin", "feeds": [feeds.url("/feed.xml")], "private_addresses": False},
        ])  # fmt: skip
        data = tmp_path / "data"

        # Apart: a crawl's resolver lets a host through for all its sources if one allows it.
        poll = ("crawl", "--poll", "--config", str(sources))
        polled = run_syndicrawl(*poll, "harbour", data_dir=data, settings=fast_settings)
        refused = run_syndicrawl(*poll, "guarded", data_dir=data, settings=fast_settings)

        status = run_syndicrawl("feeds", "status", "--json", data_dir=data)
    assert polled.returncode == 0, polled.stderr
    assert "is not the source's" not in polled.stderr, polled.stderr
    assert refused.returncode == exitcodes.PARTLY_FAILED, refused.stderr  # it fetched nothing
    assert "guarded: cannot connect to 127.0.0.1" in refused.stderr, refused.stderr
    with closing(sqlite3.connect(data / "syndicrawl.sqlite3")) as db:
        captured = {url for (url,) in db.execute("SELECT url FROM captures WHERE url LIKE '%/post/%'")}
    assert captured == {site.url("/post/1/"), site.url("/post/2/")}  # on the start page's port, not the feed's
    rows = {row["source"]: row for row in json.loads(status.stdout)}
    assert rows["harbour"]["last_error_kind"] is None and rows["harbour"]["errors"] == 0
    assert rows["guarded"]["last_error_kind"] == "address", rows["guarded"]
    assert "127.0.0.1 is" in rows["guarded"]["last_error"] and "private_addresses" in rows["guarded"]["last_error"]
