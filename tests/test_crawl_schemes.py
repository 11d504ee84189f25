"""A crawl fetches http(s) only: a link, redirect or sitemap entry to another scheme is one warning line.

An ``ftp://`` link to the source's own host, at a port that accepts connections and never
answers, kept a crawl open forever: Scrapy's FTP handler times only the connect, Ctrl-C did
nothing, and the source was never scheduled again. The silent port here is a loopback socket
that listens and never accepts; the crawl must end by itself and store the rest.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syndicrawl.demo.base import Reply, redirect
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import wordpress_site
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS, FixedSite

_HTML = (("Content-Type", "text/html; charset=UTF-8"),)


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A loopback port that takes connections (the kernel completes the handshake) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def schemes_site(base: str, ftp: str) -> FixedSite:
    blog = wordpress_site("Schemes", WORDPRESS_POSTS[:2], base_url=base)
    first, second = (blog.permalink(post) for post in WORDPRESS_POSTS[:2])
    links = "".join(
        f'<article><h2><a href="{href}">Post {n}</a></h2></article>\n'
        for n, href in enumerate([first, ftp, "data:text/html,<p>hi</p>", "/to-ftp"], 1)
    )
    sitemap = (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{second}</loc></url><url><loc>file:///etc/passwd</loc></url></urlset>"
    )
    replies = {
        "/robots.txt": Reply(200, (("Content-Type", "text/plain"),), b""),
        "/links/": Reply(200, _HTML, f"<html><body>{links}</body></html>".encode()),
        "/to-ftp": redirect(302, ftp),
        "/sitemap.xml": Reply(200, (("Content-Type", "application/xml"),), sitemap.encode()),
    }
    return FixedSite(replies, fallback=blog)


@pytest.fixture(scope="module")
def schemes_server(silent_port) -> Iterator[SiteServer[FixedSite]]:
    with SiteServer(lambda base: schemes_site(base, f"ftp://127.0.0.1:{silent_port}/x")) as server:
        yield server


@dataclass
class Crawl:
    result: subprocess.CompletedProcess[str]
    data_dir: Path

    def rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.data_dir / "syndicrawl.sqlite3") as db:
            return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, schemes_server, fast_settings) -> Crawl:
    base = schemes_server.base_url
    tmp = tmp_path_factory.mktemp("schemes")
    sources = write_sources(tmp / "sources.toml", [
        {"name": "schemes", "kind": "origin", "start_urls": [f"{base}/links/"], "sitemaps": [f"{base}/sitemap.xml"]},
    ])  # fmt: skip
    data_dir = tmp / "data"
    # It hung for good before: well within this, it ends by itself (a timeout fails the test).
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data_dir, settings=fast_settings, timeout=90)
    return Crawl(result, data_dir)


def test_a_link_to_another_scheme_is_one_warning_line_and_the_crawl_ends(crawl: Crawl, schemes_server, silent_port) -> None:
    base = schemes_server.base_url
    ftp = f"ftp://127.0.0.1:{silent_port}/x"
    err = crawl.result.stderr
    assert crawl.result.returncode == 0, err
    assert "Traceback" not in err, err
    warnings = [line.split(" WARNING ", 1)[1] for line in err.splitlines() if " WARNING " in line]
    assert sorted(warnings) == sorted([
        f"schemes: {base}/links/: links to '{ftp}': not an http(s) URL; skipped",
        f"schemes: {base}/links/: links to 'data:text/html,<p>hi</p>': not an http(s) URL; skipped",
        f"schemes: {base}/to-ftp: redirects to '{ftp}': not an http(s) URL; not followed",
        f"schemes: {base}/sitemap.xml: links to 'file:///etc/passwd': not an http(s) URL; skipped",
    ]), err


def test_the_rest_of_the_site_is_stored(crawl: Crawl, schemes_server) -> None:
    blog = schemes_server.site.fallback
    first, second = (blog.permalink(post) for post in WORDPRESS_POSTS[:2])
    assert "│ schemes │ finished │" in crawl.result.stdout, crawl.result.stdout
    articles = {url for (url,) in crawl.rows("SELECT url FROM articles WHERE status = 'ok'")}
    assert articles == {first, second}
    fetched = {url for (url,) in crawl.rows("SELECT url FROM captures")}
    assert all(url.startswith("http://") for url in fetched), fetched
