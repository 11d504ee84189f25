"""A crawl of 60 mixed feeds (the short ``benchmarks/many_feeds.py``): it ends by itself, with one
line for each bad or hostile feed, none for a good one, and every good feed's pages stored."""

from __future__ import annotations

from pathlib import Path

from benchmarks.hostile_servers import TARGET_PSS_BYTES, HostileServer, Sizes, run_crawl, stored
from benchmarks.many_feeds import crawl_many
from syndicrawl import exitcodes


def test_sixty_mixed_feeds_one_line_per_bad_feed(tmp_path: Path) -> None:
    outcome = crawl_many(tmp_path, count=60, hosts=2, posts=2, timeout=2)
    run = outcome.run
    assert run.returncode == exitcodes.PARTLY_FAILED  # the refused ports and the slowloris
    assert outcome.wrong == []
    assert outcome.lines["bad"] == 12 and outcome.lines["hostile"] == 6
    assert outcome.pages == outcome.expected_pages == 42 * 2
    assert run.unexpected() == []
    assert 0 < run.peak_pss < TARGET_PSS_BYTES


def test_more_sources_than_the_open_file_limit(tmp_path: Path) -> None:
    """A soft limit of 64 open files, 100 sources: the crawl raises it (each holds a WARC file in the
    archive writer); before, 16 of the 100 pages were stored, and the crawl exited 0."""
    with HostileServer(Sizes(good=100, posts=1)) as server:
        run = run_crawl(tmp_path, server.sources(hostile=False), timeout=5, limit=240, open_files=64)
    assert run.returncode == 0, run.lines[-20:]
    assert run.unexpected() == []
    assert [line for _, line in run.lines if " ERROR " in line] == []  # archiving failed: Too many open files
    assert sum(pages for pages, _ in stored(tmp_path / "data").values()) == 100
