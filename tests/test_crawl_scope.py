"""A source's scope is scheme + host + port, and loopback is fetched only by a source that allows it (#17.11).

A feed on 127.0.0.1:8770 led a crawl to 127.0.0.1:22 and :8771 (Scrapy's ``allowed_domains``
ignores ports), and any source fetched loopback addresses. Here a page on one loopback port links
to, and redirects to, a second server on another port that counts its requests: it must get none,
with one warning line for the links and one for the redirect. Sources that do not allow private
addresses, on ``127.0.0.1`` and on ``localhost`` (a name resolving to it), fetch nothing, not even
robots.txt, and say so in one line each. Only loopback is involved; the other private ranges and
names resolving to them are crawled in ``test_ssrf_netns.py``, inside a network namespace.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from archive.errors import ConfigError
from crawler.addresses import PRIVATE_DOMAINS
from crawler.scope import PortScope
from crawler.settings import process_settings
from syndicrawl.demo.base import Reply, redirect
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import wordpress_site
from syndicrawl.sources import Source, parse_source
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS, FixedSite

_HTML = (("Content-Type", "text/html; charset=UTF-8"),)
REFUSED = "a source reaches such addresses only with private_addresses = true."


def site_linking_to(base: str, other: str) -> FixedSite:
    """A listing of one own article and 50 links to ``other`` (another port), a feed with an entry
    there, and a redirect there."""
    blog = wordpress_site("Ports", WORDPRESS_POSTS[:1], base_url=base)
    hrefs = [blog.permalink(WORDPRESS_POSTS[0]), *(f"{other}/a{n}" for n in range(50))]
    links = "".join(f'<article><h2><a href="{href}">Post</a></h2></article>\n' for href in hrefs)
    replies = {
        "/robots.txt": Reply(200, (("Content-Type", "text/plain"),), b""),
        "/links/": Reply(200, _HTML, f"<html><body>{links}</body></html>".encode()),
        "/to-other": redirect(302, f"{other}/r"),
        "/feed.xml": Reply(200, (("Content-Type", "application/rss+xml"),), (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Ports</title>'
            f"<item><title>Elsewhere</title><link>{other}/f</link></item></channel></rss>").encode()),
    }
    return FixedSite(replies, fallback=blog)


@pytest.fixture(scope="module")
def other_server() -> Iterator[SiteServer[FixedSite]]:
    """The other port: a site that would answer anything, and counts what it is asked."""
    with SiteServer(lambda base: FixedSite({}, fallback=wordpress_site("Other", WORDPRESS_POSTS, base_url=base))) as server:
        yield server


@pytest.fixture(scope="module")
def site_server(other_server) -> Iterator[SiteServer[FixedSite]]:
    with SiteServer(lambda base: site_linking_to(base, other_server.base_url)) as server:
        yield server


@dataclass
class Crawl:
    result: subprocess.CompletedProcess[str]
    data_dir: Path

    @property
    def warnings(self) -> list[str]:
        return [line.split(" WARNING ", 1)[1] for line in self.result.stderr.splitlines() if " WARNING " in line]

    def rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.data_dir / "syndicrawl.sqlite3") as db:
            return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, site_server, other_server, fast_settings) -> Crawl:
    """Source 'ports' allows loopback; 'closed' (the same site, named localhost) does not."""
    base, port = site_server.base_url, urlsplit(site_server.base_url).port
    tmp = tmp_path_factory.mktemp("scope")
    sources = write_sources(tmp / "sources.toml", [
        {"name": "ports", "kind": "origin", "feeds": [f"{base}/feed.xml"], "start_urls": [f"{base}/links/", f"{base}/to-other"],
         "backfill_pages": 0},
        {"name": "closed", "kind": "origin", "feeds": [f"http://localhost:{port}/feed/"], "private_addresses": False},
    ])  # fmt: skip
    site_server.clear_requests()
    other_server.clear_requests()
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp / "data", settings=fast_settings)
    return Crawl(result, tmp / "data")


def test_links_and_redirects_to_another_port_are_not_fetched(crawl: Crawl, site_server, other_server) -> None:
    base, other = site_server.base_url, other_server.base_url
    port, own = urlsplit(other).port, f"http://127.0.0.1:{urlsplit(base).port}"
    assert other_server.requests == []
    reason = f"port {port} is not the source's ({own}); not followed"
    links = [m for m in crawl.warnings if m.startswith("ports: ") and " links to " in m]
    # One line for the port, from whichever of the feed and the listing was read first.
    assert len(links) == 1 and links[0] in {
        f"ports: {base}/links/: links to '{other}/a0': {reason}", f"ports: {base}/feed.xml: links to '{other}/f': {reason}",
    }, crawl.result.stderr
    assert [m for m in crawl.warnings if m.startswith("ports: ") and " links to " not in m] == [
        f"ports: {base}/to-other: redirects to '{other}/r': {reason}",
    ], crawl.result.stderr
    blog = site_server.site.fallback
    assert crawl.rows("SELECT url FROM articles WHERE status = 'ok'") == [(blog.permalink(WORDPRESS_POSTS[0]),)]


def test_a_name_resolving_to_loopback_is_not_fetched_unless_the_source_allows_it(crawl: Crawl, site_server) -> None:
    port = urlsplit(site_server.base_url).port
    assert [m for m in crawl.warnings if m.startswith("closed: ")] == [
        f"closed: cannot connect to localhost:{port}: refused: localhost resolves to 127.0.0.1, a loopback address; "
        + REFUSED
    ], crawl.result.stderr
    assert [r for r in site_server.requests if r.headers.get("Host", "").startswith("localhost")] == []
    assert "Traceback" not in crawl.result.stderr
    assert re.search(r"│ closed +│ failed +│", crawl.result.stdout), crawl.result.stdout


def test_a_loopback_address_is_not_fetched_unless_the_source_allows_it(tmp_path, site_server, fast_settings) -> None:
    base, port = site_server.base_url, urlsplit(site_server.base_url).port
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": "shut", "kind": "origin", "feeds": [f"{base}/feed/"], "start_urls": [f"{base}/links/"],
         "private_addresses": False},
    ])  # fmt: skip
    site_server.clear_requests()
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp_path / "data", settings=fast_settings)
    assert site_server.requests == []
    warnings = [line.split(" WARNING ", 1)[1] for line in result.stderr.splitlines() if " WARNING " in line]
    assert warnings == [f"shut: cannot connect to 127.0.0.1:{port}: refused: 127.0.0.1 is a loopback address; {REFUSED}"]
    assert "Traceback" not in result.stderr


def test_the_port_scope_is_the_sources_own_origins_and_the_standard_ports() -> None:
    scope = PortScope.of(Source("s", "origin", feeds=("http://a.test:8770/feed",), start_urls=("https://b.test/",)))
    assert scope.refusal("http://a.test:8770/post") is None
    assert scope.refusal("http://a.test/post") is None  # sites move between http and https on 80 and 443
    assert scope.refusal("https://www.a.test/post") is None
    assert scope.refusal("http://a.test:80/post") is None
    assert scope.refusal("http://a.test:22/") == "port 22 is not the source's (http://a.test:8770)"
    assert scope.refusal("https://a.test:8770/") == "port 8770 is not the source's (http://a.test:8770)"
    assert scope.refusal("http://b.test:8080/") == "port 8080 is not the source's"
    assert scope.refusal("http://b.test:443/") == "port 443 is not the source's"


def test_only_sources_that_allow_private_addresses_lend_their_domains_to_the_resolver() -> None:
    sources = [
        Source("demo", "origin", feeds=("http://127.0.0.1:8770/f",), allowed_domains=("127.0.0.1",), private_addresses=True),
        Source("web", "origin", feeds=("http://example.org/f",), allowed_domains=("example.org",)),
    ]
    assert process_settings(sources)[PRIVATE_DOMAINS] == ["127.0.0.1"]


def test_private_addresses_is_true_or_false() -> None:
    entry = {"name": "a", "kind": "origin", "feeds": ["http://127.0.0.1:8770/f"]}
    assert parse_source(entry, "s.toml: source #1").private_addresses is False
    assert parse_source({**entry, "private_addresses": True}, "s.toml: source #1").private_addresses is True
    with pytest.raises(ConfigError) as error:
        parse_source({**entry, "private_addresses": "yes"}, "s.toml: source #1")
    assert str(error.value) == "s.toml: source #1 'a', field 'private_addresses': must be true or false, got 'yes'"
