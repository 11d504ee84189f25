"""A worker's crawl jobs gathered into batches (``scheduler.batches``): the jobs held at once run
as one crawl, at most ``size`` sources a crawl and ``processes`` crawls at a time, polls included."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from scheduler.batches import Batches
from scheduler.jobs import Ran
from scheduler.schedules import CrawlTarget


class Crawls:
    """Stands for ``jobs.run_crawl``: records each crawl's sources and how many ran at once."""

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds, self.calls, self.running, self.most = seconds, [], 0, 0
        self._lock = threading.Lock()

    def __call__(self, targets: Sequence[CrawlTarget]) -> dict[str, Ran]:
        with self._lock:
            self.calls.append([t.source for t in targets])
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        return {t.source: Ran("finished", None) for t in targets}


def _targets(names: Sequence[str], config: str = "sources.toml") -> list[CrawlTarget]:
    return [CrawlTarget(name, config, "data", None) for name in names]


def test_jobs_held_at_once_are_one_crawl_of_at_most_size_sources() -> None:
    crawls = Crawls()
    batches = Batches(processes=1, size=3, run=crawls)
    with ThreadPoolExecutor(7) as pool:
        ran = list(pool.map(batches.crawl, _targets([f"s{n}" for n in range(7)])))
    assert [r.status for r in ran] == ["finished"] * 7
    assert sorted(name for call in crawls.calls for name in call) == [f"s{n}" for n in range(7)], "each once"
    assert [len(call) for call in crawls.calls] == [3, 3, 1] and crawls.most == 1


def test_a_batch_holds_one_sources_file_and_each_source_once() -> None:
    """Jobs of another sources file (or data directory) and a second job of a source wait for a
    crawl of their own: one ``syndicrawl crawl`` takes one sources file and each source once."""
    crawls = Crawls()
    batches = Batches(processes=1, size=10, run=crawls)
    targets = [*_targets(["a", "b", "a"]), *_targets(["c"], config="other.toml")]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(batches.crawl, targets))
    assert sorted(map(sorted, crawls.calls)) == [["a"], ["a", "b"], ["c"]]


def test_polls_take_the_same_process_slots() -> None:
    crawls = Crawls(seconds=0.3)
    batches = Batches(processes=1, size=10, run=crawls)
    polled = []
    with ThreadPoolExecutor(2) as pool:
        crawling = pool.submit(batches.crawl, _targets(["a"])[0])
        time.sleep(0.4)  # the crawl started (after its gathering time)

        def poll() -> None:
            with batches.slot():
                polled.append(crawls.running)

        pool.submit(poll).result()
        crawling.result()
    assert polled == [0], "the poll waited for the crawl's slot"
