"""robots.txt fetched once per host for every source, process and machine (``crawler/robots.py``).

Sources by the hundred on one host each fetched its robots.txt, and every worker did again. With
``[queue] redis_url`` set, a host's robots.txt is fetched by one crawl and kept in Redis for a day;
a 4xx (no robots.txt) is kept as "everything allowed", a 5xx is asked again by the next crawl.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from syndicrawl.demo.base import Reply
from syndicrawl.demo.server import SiteServer
from tests.fixtures.cli import FAST_SETTINGS, run_syndicrawl, write_sources
from tests.fixtures.feedserver import FeedSite
from tests.fixtures.redis_server import RedisTarget

POSTS = ["/post/1/", "/post/2/", "/post/3/"]


class GuardedSite(FeedSite):
    """A feed site whose robots.txt forbids ``/post/2/`` (``robots``: its status and body, changeable)."""

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.entries = 3
        self.robots = (200, b"User-agent: *\nDisallow: /post/2/\n")

    def _answer(self, path: str, headers: Mapping[str, str]) -> Reply:
        if path == "/robots.txt":
            return Reply(self.robots[0], (("Content-Type", "text/plain"),), self.robots[1])
        return super()._answer(path, headers)

    def fetched(self, path: str) -> int:
        with self.lock:
            return sum(answer.path == path for answer in self.answers)


@pytest.fixture
def site() -> Iterator[SiteServer[GuardedSite]]:
    with SiteServer(GuardedSite, host="127.0.0.7") as server:
        yield server


def _settings(path: Path, redis: RedisTarget | None) -> Path:
    queue = f'[scheduler]\nredis_prefix = "{redis.prefix}"\n[queue]\nredis_url = "{redis.url}"\n' if redis else ""
    path.write_text(FAST_SETTINGS + "enabled = false\n" + queue, encoding="utf-8")
    return path


def _sources(path: Path, site: SiteServer[GuardedSite], names: list[str]) -> Path:
    return write_sources(path, [{"name": name, "kind": "origin", "feeds": [site.url("/feed.xml")]} for name in names])


def _crawl(tmp_path: Path, name: str, sources: Path, settings: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources),
                             "--data-dir", str(tmp_path / name), "--settings", str(settings)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.redis
def test_two_crawls_of_many_sources_on_one_host_fetch_its_robots_txt_once(
    tmp_path: Path, redis_target: RedisTarget, site: SiteServer[GuardedSite]
) -> None:
    settings = _settings(tmp_path / "settings.toml", redis_target)
    crawls = [_crawl(tmp_path, f"c{n}", _sources(tmp_path / f"sources{n}.toml", site, [f"c{n}s{k}" for k in range(4)]),
                     settings) for n in range(2)]
    outputs = [crawl.communicate(timeout=180)[0] for crawl in crawls]
    assert [crawl.returncode for crawl in crawls] == [0, 0], outputs

    assert site.site.fetched("/robots.txt") == 1, "one fetch for 8 sources in 2 processes"
    assert site.site.fetched("/post/2/") == 0, "disallowed, in every process"
    assert site.site.fetched("/post/1/") >= 1 and site.site.fetched("/post/3/") >= 1


def test_one_crawl_fetches_a_hosts_robots_txt_once_for_all_its_sources(
    tmp_path: Path, site: SiteServer[GuardedSite]
) -> None:
    """Without Redis, the crawl process's sources share it."""
    done = run_syndicrawl("crawl", "--config", str(_sources(tmp_path / "sources.toml", site, ["a", "b", "c"])),
                          data_dir=tmp_path / "data", settings=_settings(tmp_path / "settings.toml", None))
    assert done.returncode == 0, done.stdout + done.stderr
    assert site.site.fetched("/robots.txt") == 1
    assert site.site.fetched("/post/2/") == 0


@pytest.mark.redis
def test_a_5xx_is_asked_again_by_the_next_crawl_a_4xx_is_kept_as_allowing_all(
    tmp_path: Path, redis_target: RedisTarget, site: SiteServer[GuardedSite]
) -> None:
    settings = _settings(tmp_path / "settings.toml", redis_target)
    sources = _sources(tmp_path / "sources.toml", site, ["a"])

    def crawl() -> int:
        """The robots.txt fetches of one more crawl."""
        before = site.site.fetched("/robots.txt")
        done = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp_path / "data", settings=settings)
        assert done.returncode == 0, done.stdout + done.stderr
        return site.site.fetched("/robots.txt") - before

    site.site.robots = (503, b"User-agent: *\nDisallow: /post/2/\n")
    assert crawl() >= 1
    site.site.robots = (404, b"User-agent: *\nDisallow: /\n")  # a 404 page is no robots.txt
    assert crawl() >= 1, "the 503 was not kept"
    site.site.robots = (200, b"User-agent: *\nDisallow: /\n")
    assert crawl() == 0, "the 404 was kept"
    assert site.site.fetched("/post/2/") >= 1, "a 404 allows everything"
