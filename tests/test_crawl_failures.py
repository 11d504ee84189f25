"""A source that cannot be crawled says so in one line, is recorded as failed, and the exit code tells.

A refused connection or an unknown host was 81 lines of Scrapy errors and tracebacks, then
'finished' and exit code 0; a redirect loop and a source whose ``allowed_domains`` excludes its
own feed were silent (the latter a 0-page 'finished'); a robots.txt timeout was an error with a
traceback. The unknown host fails inside the test network guard, which refuses every name
lookup but ``localhost``'s: no DNS query is sent.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from syndicrawl import exitcodes
from syndicrawl.demo.base import Reply, redirect
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import wordpress_site
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS, FixedSite

MAX_REDIRECTS = 20  # Scrapy's REDIRECT_MAX_TIMES


def redirects_site(base: str) -> FixedSite:
    replies = {
        "/robots.txt": Reply(200, (("Content-Type", "text/plain"),), b""),
        "/loop/a": redirect(302, f"{base}/loop/b"),
        "/loop/b": redirect(302, f"{base}/loop/a"),
        **{f"/chain/{n}": redirect(302, f"{base}/chain/{n + 1}") for n in range(MAX_REDIRECTS + 5)},
    }
    return FixedSite(replies, fallback=wordpress_site("Redirects", WORDPRESS_POSTS[:1], base_url=base))


@pytest.fixture(scope="module")
def redirects_server() -> Iterator[SiteServer[FixedSite]]:
    with SiteServer(redirects_site) as server:
        yield server


@pytest.fixture(scope="module")
def slow_robots_server() -> Iterator[SiteServer[FixedSite]]:
    """A site whose robots.txt never comes in time; its pages do."""
    with SiteServer(lambda base: FixedSite(
        {}, fallback=wordpress_site("Slow robots", WORDPRESS_POSTS[:1], base_url=base), delays={"/robots.txt": 60.0}
    )) as server:
        yield server
        server.site.release()


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A loopback port bound by no listener: every connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@dataclass
class Crawl:
    result: subprocess.CompletedProcess[str]
    data_dir: Path

    def statuses(self) -> dict[str, str]:
        with sqlite3.connect(self.data_dir / "syndicrawl.sqlite3") as db:
            rows = db.execute("SELECT s.name, c.status FROM crawls c JOIN sources s ON s.id = c.source_id")
            return dict(rows.fetchall())


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, redirects_server, slow_robots_server, closed_port, fast_settings) -> Crawl:
    base = redirects_server.base_url
    tmp = tmp_path_factory.mktemp("failures")
    refused = f"http://127.0.0.1:{closed_port}"
    sources = write_sources(tmp / "sources.toml", [
        {"name": "refused", "kind": "origin", "feeds": [f"{refused}/feed.xml"], "start_urls": [f"{refused}/"]},
        {"name": "unknown-host", "kind": "origin", "feeds": ["http://nowhere.invalid/feed.xml"]},
        {"name": "redirects", "kind": "origin", "feeds": [f"{base}/feed/"],
         "start_urls": [f"{base}/loop/a", f"{base}/chain/0"]},
        {"name": "scope", "kind": "origin", "feeds": [f"{base}/feed/"], "allowed_domains": ["example.org"]},
        {"name": "slow-robots", "kind": "origin", "feeds": [slow_robots_server.url("/feed/")]},
    ])  # fmt: skip
    data_dir = tmp / "data"
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data_dir, settings=fast_settings)
    return Crawl(result, data_dir)


def test_each_failure_is_one_warning_line_naming_its_source(
    crawl: Crawl, redirects_server, slow_robots_server, closed_port
) -> None:
    base = redirects_server.base_url
    lines = crawl.result.stderr.splitlines()
    messages = [line.split(" WARNING ", 1)[1] for line in lines if " WARNING " in line]
    progress = re.compile(r"[\w-]+: \w+, \d+ pages, \d+ articles, ")  # a line every 5 s when not on a terminal
    assert all(" WARNING " in line or progress.match(line) for line in lines), crawl.result.stderr
    # A robots.txt that timed out: one line with Scrapy's reason, not its error line and traceback.
    robots = slow_robots_server.url("/robots.txt")
    slow = [m for m in messages if m.startswith("slow-robots: ")]
    assert len(slow) == 1 and re.fullmatch(
        rf"slow-robots: robots.txt of {re.escape(urlsplit(robots).netloc)}: Getting {re.escape(robots)} took "
        r"longer than 3(\.0)? seconds\.*; its pages are fetched as if it allowed them", slow[0]), slow
    assert sorted(m for m in messages if m not in slow) == sorted([
        f"refused: cannot connect to 127.0.0.1:{closed_port}: connection refused",
        "unknown-host: cannot connect to nowhere.invalid: host name not found (DNS lookup failed)",
        f"redirects: {base}/loop/a: redirect loop ({base}/loop/a -> {base}/loop/b -> {base}/loop/a); not followed",
        f"redirects: {base}/chain/0: more than {MAX_REDIRECTS} redirects; not followed",
        f"scope: {base}/feed/: outside the source's allowed_domains (example.org); not fetched",
    ]), crawl.result.stderr


def test_a_source_that_fetched_none_of_its_entry_points_is_failed(crawl: Crawl) -> None:
    out = crawl.result.stdout
    expected = {"refused": "failed", "unknown-host": "failed", "scope": "failed", "redirects": "finished",
                "slow-robots": "finished"}
    for name, status in expected.items():
        assert re.search(rf"│ {name} +│ {status} +│", out), out
    assert crawl.statuses() == expected


def test_failed_sources_have_their_own_exit_code(crawl: Crawl) -> None:
    assert crawl.result.returncode == exitcodes.PARTLY_FAILED == 4, crawl.result.stderr


def test_exit_codes_are_distinct_and_documented(tmp_path) -> None:
    """Click's usage error (2) must not read as 'a source failed' or 'interrupted'."""
    usage = run_syndicrawl("crawl", "--no-such-option", data_dir=tmp_path / "data")
    assert usage.returncode == exitcodes.USAGE == 2
    codes = [exitcodes.ERROR, exitcodes.USAGE, exitcodes.LOCKED, exitcodes.PARTLY_FAILED, exitcodes.INTERRUPTED]
    assert len(set(codes)) == len(codes) and 0 not in codes
    help_text = run_syndicrawl("crawl", "--help", data_dir=tmp_path / "data").stdout
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for code in codes:
        assert re.search(rf"^\s+{code}  \S", help_text, re.MULTILINE), help_text
        assert re.search(rf"^\| {code} +\|", readme, re.MULTILINE), f"exit code {code} not in the README's table"
