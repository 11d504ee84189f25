"""A source that cannot be crawled says so in one line, is recorded as failed, and the exit code tells.

A refused connection or an unknown host was 81 lines of Scrapy errors and tracebacks, then
'finished' and exit code 0; a redirect loop and a source whose ``allowed_domains`` excludes its
own feed were silent (the latter a 0-page 'finished'). The unknown host fails inside the test
network guard, which answers every name lookup but ``localhost`` itself: no DNS query is sent.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
def crawl(tmp_path_factory, redirects_server, closed_port, fast_settings) -> Crawl:
    base = redirects_server.base_url
    tmp = tmp_path_factory.mktemp("failures")
    refused = f"http://127.0.0.1:{closed_port}"
    sources = write_sources(tmp / "sources.toml", [
        {"name": "refused", "kind": "origin", "feeds": [f"{refused}/feed.xml"], "start_urls": [f"{refused}/"]},
        {"name": "unknown-host", "kind": "origin", "feeds": ["http://nowhere.invalid/feed.xml"]},
        {"name": "redirects", "kind": "origin", "feeds": [f"{base}/feed/"],
         "start_urls": [f"{base}/loop/a", f"{base}/chain/0"]},
        {"name": "scope", "kind": "origin", "feeds": [f"{base}/feed/"], "allowed_domains": ["example.org"]},
    ])  # fmt: skip
    data_dir = tmp / "data"
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data_dir, settings=fast_settings)
    return Crawl(result, data_dir)


def test_each_failure_is_one_warning_line_naming_its_source(crawl: Crawl, redirects_server, closed_port) -> None:
    base = redirects_server.base_url
    lines = crawl.result.stderr.splitlines()
    messages = [re.sub(r"^\S+ \S+ WARNING ", "", line) for line in lines]
    assert sorted(messages) == sorted([
        f"refused: cannot connect to 127.0.0.1:{closed_port}: connection refused",
        "unknown-host: cannot connect to nowhere.invalid: host name not found (DNS lookup failed)",
        f"redirects: {base}/loop/a: redirect loop ({base}/loop/a -> {base}/loop/b -> {base}/loop/a); not followed",
        f"redirects: {base}/chain/0: more than {MAX_REDIRECTS} redirects; not followed",
        f"scope: {base}/feed/: outside the source's allowed_domains (example.org); not fetched",
    ]), crawl.result.stderr
    assert all(" WARNING " in line for line in lines), crawl.result.stderr


def test_a_source_that_fetched_none_of_its_entry_points_is_failed(crawl: Crawl) -> None:
    out = crawl.result.stdout
    for name, status in [("refused", "failed"), ("unknown-host", "failed"), ("scope", "failed"),
                         ("redirects", "finished")]:
        assert re.search(rf"│ {name} +│ {status} +│", out), out
    assert crawl.statuses() == {"refused": "failed", "unknown-host": "failed", "scope": "failed",
                                "redirects": "finished"}


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
