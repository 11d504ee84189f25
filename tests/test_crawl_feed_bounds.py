"""Crawls bounded per feed and polite per host (#17.13, #17.14), against loopback servers that log times.

A feed's new entries are taken newest first up to ``max_feed_entries``, the rest by later polls;
a big feed is parsed off the reactor, so the other sources keep fetching meanwhile; the delay
between requests holds per host across all the sources on it, not per source.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.feed_bounds import ROOT, TARGET_PSS_BYTES, TimedSite, measure, rss
from syndicrawl.demo.base import Reply
from syndicrawl.demo.server import SiteServer
from tests.fixtures.cli import FAST_SETTINGS, run_syndicrawl, write_sources

HTML = (("Content-Type", "text/html; charset=utf-8"),)


@pytest.fixture
def servers() -> Iterator[tuple[SiteServer[TimedSite], SiteServer[TimedSite]]]:
    """Two hosts: 127.0.0.1 and 127.0.0.2 (different hosts to the crawler's politeness)."""
    with SiteServer(TimedSite) as one, SiteServer(TimedSite, host="127.0.0.2") as two:
        yield one, two


def settings_file(tmp_path: Path, extract: bool = True, **crawl: object) -> Path:
    """FAST_SETTINGS with these [crawl] settings; ``extract=False``: pages archived, not extracted."""
    lines = "".join(f"{key} = {str(value).lower() if isinstance(value, bool) else value}\n" for key, value in crawl.items())
    text = FAST_SETTINGS
    for key in crawl:  # FAST_SETTINGS' own value of a key given here goes
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{key} =")) + "\n"
    text = text.replace("[crawl]\n", f"[crawl]\n{lines}").replace("[extract]\n", f"[extract]\nenabled = {str(extract).lower()}\n")
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def warnings(stderr: str) -> list[str]:
    return [line.split(" WARNING ", 1)[1] for line in stderr.splitlines() if " WARNING " in line]


def test_a_feed_gives_its_newest_entries_and_later_polls_the_rest(tmp_path: Path, servers) -> None:
    one, _ = servers
    feed = one.url("/feed.xml")
    one.site.replies["/feed.xml"] = Reply(200, (("Content-Type", "application/rss+xml"),), rss(one.base_url, 12))
    sources = write_sources(tmp_path / "sources.toml", [{"name": "big", "kind": "origin", "feeds": [feed]}])
    settings = settings_file(tmp_path, max_feed_entries=5)
    data_dir = tmp_path / "data"

    first = run_syndicrawl("crawl", "--config", str(sources), data_dir=data_dir, settings=settings)
    assert first.returncode == 0, first.stderr
    assert warnings(first.stderr) == [f"big: {feed}: 12 new entries; the newest 5 fetched (max_feed_entries), "
                                      "7 left for later polls"]
    assert sorted(one.site.paths("/post/")) == sorted(f"/post/{n}/" for n in (12, 11, 10, 9, 8))

    fetched = []
    for poll, left in ((2, 2), (3, 0)):
        one.site.clear()
        result = run_syndicrawl("crawl", "--poll", "--config", str(sources), data_dir=data_dir, settings=settings)
        assert result.returncode == 0, result.stderr
        assert warnings(result.stderr) == ([f"big: {feed}: 7 new entries; the newest 5 fetched (max_feed_entries), "
                                            "2 left for later polls"] if left else []), poll
        fetched.append(sorted(one.site.paths("/post/")))
    assert fetched == [sorted(f"/post/{n}/" for n in (7, 6, 5, 4, 3)), ["/post/1/", "/post/2/"]]
    with sqlite3.connect(data_dir / "syndicrawl.sqlite3") as db:
        (entries,) = db.execute("SELECT count(*) FROM feed_entries").fetchone()
        (articles,) = db.execute("SELECT count(DISTINCT url) FROM articles WHERE status = 'ok'").fetchone()
    assert entries == articles == 12


def test_other_sources_keep_fetching_while_a_big_feed_is_parsed(tmp_path: Path, servers) -> None:
    """feedparser takes about a millisecond an entry: a big feed parsed on the reactor stopped every
    other source for as long. (Pages archived, not extracted: the writer's pace is not the point.)"""
    one, two = servers
    one.site.replies["/feed.xml"] = Reply(200, (("Content-Type", "application/rss+xml"),), rss(one.base_url, 10_000))
    # Start URLs, not a page's links: those are capped at max_feed_entries too.
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": "big", "kind": "origin", "feeds": [one.url("/feed.xml")]},
        {"name": "steady", "kind": "origin", "start_urls": [two.url(f"/steady/{n}/") for n in range(400)],
         "download_delay": 0.05},
    ])
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp_path / "data",
                            settings=settings_file(tmp_path, extract=False, max_feed_entries=3))
    assert result.returncode == 0, result.stderr
    (answered,) = one.site.times("/feed.xml")
    parsed = min(one.site.times("/post/"))  # the first entry is requested once the feed is parsed
    steady = two.site.times("/steady/")
    end = min(parsed, steady[-1])  # while both the parse and the steady source's pages last
    assert end - answered > 1.0, "the parse was too quick, or the steady source too short, to show anything"
    during = [answered, *(at for at in steady if answered < at <= end)]
    # One request every 0.05 s (Scrapy's jitter: 0.025 to 0.075 s); a blocked reactor sends none.
    assert max(b - a for a, b in zip(during, during[1:], strict=False)) < 1.0, (len(during), parsed - answered)


def test_the_delay_holds_per_host_across_sources(tmp_path: Path, servers) -> None:
    """50 sources on one host wait for each other (each kept its own delay: ~1,250 requests in 5 s
    from 1,196 sources); another host is not held up by them."""
    one, two = servers
    delay = 0.2
    for server in servers:
        for n in range(50):
            server.site.replies[f"/s{n}/"] = Reply(200, HTML, b"<html><body><p>Nothing here.</p></body></html>")
    sources = [{"name": f"one{n}", "kind": "origin", "start_urls": [one.url(f"/s{n}/")]} for n in range(50)]
    sources += [{"name": f"two{n}", "kind": "origin", "start_urls": [two.url(f"/s{n}/")]} for n in range(5)]
    result = run_syndicrawl("crawl", "--config", str(write_sources(tmp_path / "sources.toml", sources)),
                            data_dir=tmp_path / "data",
                            settings=settings_file(tmp_path, download_delay=delay, obey_robots=False))
    assert result.returncode == 0, result.stderr
    first, second = sorted(one.site.times("/s")), sorted(two.site.times("/s"))
    assert len(first) == 50 and len(second) == 5
    gaps = [b - a for a, b in zip(first, first[1:], strict=False)]
    # Scrapy draws each wait from 0.5 to 1.5 times the delay. The server notes a request when a
    # thread of its takes it, which on a loaded machine can be late: a gap or two may look shorter.
    assert sorted(gaps)[2] >= 0.5 * delay - 0.02, sorted(gaps)[:5]
    assert sum(gaps) / len(gaps) >= 0.8 * delay, sum(gaps) / len(gaps)
    assert second[-1] < first[10], "the second host waited for the first"


def test_a_big_feed_crawl_stays_within_its_memory(tmp_path: Path) -> None:
    """The benchmark's measure (benchmarks/feed_bounds.py, 100,000 entries) on a smaller feed."""
    run = measure(5_000, ROOT, 120, tmp_path / "run", "max_feed_entries = 20\n")
    assert run.returncode == 0, run.warnings
    assert run.requested == 20 and run.warnings == [
        f"big: {run.feed}: 5000 new entries; the newest 20 fetched (max_feed_entries), "
        "4980 left for later polls"
    ]
    assert 0 < run.peak_pss < TARGET_PSS_BYTES


def test_a_crawl_stopped_during_a_big_parse_exits_at_once(tmp_path: Path, servers) -> None:
    """The parse runs on a daemon thread: Python waited for an executor's thread at exit, so a
    crawl sent SIGTERM during a long parse exited only once the parse was done."""
    one, _ = servers
    one.site.replies["/feed.xml"] = Reply(200, (("Content-Type", "application/rss+xml"),), rss(one.base_url, 60_000))
    sources = write_sources(tmp_path / "sources.toml", [{"name": "big", "kind": "origin", "feeds": [one.url("/feed.xml")]}])
    command = [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--data-dir", str(tmp_path / "data"),
               "--settings", str(settings_file(tmp_path))]
    crawl = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not one.site.times("/feed.xml") and crawl.poll() is None:
            time.sleep(0.1)
        time.sleep(2.0)  # the feed is being parsed (60,000 entries: a minute)
        assert crawl.poll() is None and not one.site.times("/post/")
        crawl.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        _, stderr = crawl.communicate(timeout=120)
        waited = time.monotonic() - stopped
    finally:
        crawl.kill()
    assert crawl.returncode == 5, stderr
    assert waited < 15, f"exited {waited:.0f} s after SIGTERM"


def test_at_most_sources_at_once_run_and_the_rest_wait_their_turn(tmp_path: Path) -> None:
    """Each running source holds a Scrapy crawler and an open WARC file (1,200 sources at once
    took 660 MB): with sources_at_once = 2, no more than two sources fetch at any moment, and the
    queued ones all get their turn."""
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(SiteServer(TimedSite, host=host)) for host in hosts]
        sources = [{"name": f"s{n}", "kind": "origin", "start_urls": [server.url(f"/post/{n}-{page}") for page in range(3)]}
                   for n, server in enumerate(servers)]
        result = run_syndicrawl("crawl", "--config", str(write_sources(tmp_path / "sources.toml", sources)),
                                data_dir=tmp_path / "data",
                                settings=settings_file(tmp_path, download_delay=0.3, obey_robots=False, sources_at_once=2))
        assert result.returncode == 0, result.stderr
        spans = [(min(times), max(times)) for times in (server.site.times("/post/") for server in servers)]
    assert all(len(server.site.paths("/post/")) == 3 for server in servers)
    running = max(sum(start <= moment <= end for start, end in spans) for moment, _ in spans)
    assert running == 2, spans
