"""Hostile servers (#17), the short campaign: each misbehaviour ends in bounded time as one line.

The full-size run is ``benchmarks/hostile_servers.py``; this one has a 10 MB gzip bomb, a 2 MB
DOWNLOAD_MAXSIZE, a page of 50 links and a feed of 200 entries against a cap of 20.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from benchmarks.hostile_servers import BEHAVIOURS, TARGET_PSS_BYTES, HostileServer, Sizes, run_crawl, stored
from syndicrawl import exitcodes

SIZES = Sizes(bomb=10_000_000, links=50, entries=200, good=2, posts=3)
CAP = 20


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("hostile")
    with HostileServer(SIZES) as server:
        run = run_crawl(work, server.sources(), timeout=2, maxsize=2_000_000, entries=CAP, limit=180)
    return server, run, work / "data"


def test_the_crawl_ends_by_itself_with_a_failed_source(campaign) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = campaign
    assert run.returncode == exitcodes.PARTLY_FAILED, run.lines
    assert run.seconds < 120
    assert run.unexpected() == []  # no traceback, no stray output


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=lambda b: b.name)
def test_one_line_naming_the_url_and_why(campaign, behaviour) -> None:  # type: ignore[no-untyped-def]
    server, run, _ = campaign
    lines = [line for _, line in run.lines_of(f"hostile-{behaviour.name}")]
    assert len(lines) == 1, lines
    url = server.url(behaviour)
    assert (url if behaviour.name != "slow-robots" else f"robots.txt of {urlsplit(url).netloc}") in lines[0]
    assert re.search(behaviour.reason, lines[0]), lines[0]


def test_every_line_names_its_source(campaign) -> None:  # type: ignore[no-untyped-def]
    """Scrapy's own lines (on DOWNLOAD_MAXSIZE, a robots.txt error with its traceback) name no source."""
    server, run, _ = campaign
    names = "|".join(re.escape(str(source["name"])) for source in server.sources())
    logged = [line for _, line in run.lines if re.match(r"\S+ \S+ [A-Z]+ ", line)]
    assert logged
    assert [line for line in logged if not re.match(rf"\S+ \S+ WARNING ({names}): ", line)] == []


def test_failures_are_counted_as_errors(campaign) -> None:  # type: ignore[no-untyped-def]
    """Every behaviour but the two capped ones (a big feed or page is not an error) is an error of its source."""
    _, run, _ = campaign
    rows = [[cell.strip() for cell in row.split("│")[1:-1]] for row in run.stdout.splitlines() if "│" in row]
    errors = {row[0]: int(row[-1]) for row in rows}
    capped = {"hostile-huge-feed", "hostile-many-links"}  # and the robots.txt timeout is an error
    for behaviour in BEHAVIOURS:
        name = f"hostile-{behaviour.name}"
        assert (errors[name] == 0) == (name in capped), (name, errors)


def test_a_source_given_nothing_to_read_failed(campaign) -> None:  # type: ignore[no-untyped-def]
    """Its only feed a gzip bomb, a redirect loop or an empty 200, a source crawled nothing: each
    was an HTTP answer, and it ended 'finished' beside the endless body's and slowloris's 'failed'.
    A capped feed or page, a feed read in a wrong charset, a robots.txt that timed out still gave pages."""
    _, run, _ = campaign
    rows = [[cell.strip() for cell in row.split("│")[1:-1]] for row in run.stdout.splitlines() if "│" in row]
    statuses = {row[0]: row[1] for row in rows}
    read = {"hostile-many-links", "hostile-huge-feed", "hostile-bad-charset", "hostile-slow-robots", "good-0", "good-1"}
    assert statuses == {name: "finished" if name in read else "failed" for name in statuses}
    assert len(statuses) == len(BEHAVIOURS) + SIZES.good


def test_good_sources_stored_and_caps_held(campaign) -> None:  # type: ignore[no-untyped-def]
    _, _, data = campaign
    pages = {name: counts[0] for name, counts in stored(data).items()}
    # A robots.txt that times out is fetched as if it allowed everything.
    assert pages["good-0"] == pages["good-1"] == pages["hostile-slow-robots"] == SIZES.posts
    assert pages["hostile-huge-feed"] == pages["hostile-many-links"] == CAP


def test_memory_bounded(campaign) -> None:  # type: ignore[no-untyped-def]
    _, run, _ = campaign
    assert 0 < run.peak_pss < TARGET_PSS_BYTES
