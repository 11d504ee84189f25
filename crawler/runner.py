"""Run one crawl of some sources in this process and report what it stored.

Twisted's reactor cannot be restarted, so a process runs one crawl: the CLI calls this once;
the scheduler starts a subprocess per crawl. All sources crawl concurrently, each with its
own spider, scope, delay and WARC files; what they fetch goes to one archive writer process
(``archive/ingest/service.py``), which writes, extracts and matches while this one only fetches.
The caller starts that process (``crawler.channel``) before importing this module, so that
it starts up while this process loads Scrapy.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Imported here, where the stack is shallow: these modules call Scrapy's
# create_deprecated_class, which runs inspect.stack() and so looks up the module of every
# frame among all loaded ones; under Crawler.crawl that cost 0.3 s of start-up.
import scrapy.core.downloader.contextfactory  # noqa: F401
from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.reactor import install_reactor
from twisted.internet.defer import DeferredSemaphore

from crawler.context import ArchiveContext
from crawler.settings import process_settings, scrapy_settings
from crawler.spiders.source import SourceSpider

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    from crawler.channel import ArchiveChannel
    from syndicrawl.settings import Settings
    from syndicrawl.sources import Source

logger = logging.getLogger(__name__)

#: Progress figures read from each crawler's stats, then those the archive writer counts.
COUNTERS = ("pages", "bytes", "errors", "skipped")
ARCHIVE_COUNTERS = ("articles", "extraction_failed", "not_stored")


@dataclass
class SourceProgress:
    """One source's figures so far; ``status`` is set once its spider has closed, or its crawl failed."""

    name: str
    pages: int = 0
    articles: int = 0
    bytes: int = 0
    errors: int = 0
    extraction_failed: int = 0
    not_stored: int = 0  # pages fetched whose capture the writer failed to store (disk full, a database error)
    skipped: int = 0
    status: str = "running"
    failed: bool = False  # the crawl raised: its spider could not open, or its engine failed
    warc_files: list[Path] = field(default_factory=list)

    def update(self, crawler: Crawler, archived: dict[str, int]) -> None:
        """Read the crawler's stats and the writer's counts (whose errors add to the crawler's)."""
        for name, value in self.crawler_counts(crawler).items():
            setattr(self, name, value)
        for name in ARCHIVE_COUNTERS:
            setattr(self, name, archived.get(name, 0))
        self.errors += archived.get("errors", 0)
        stats = _stats(crawler)
        reason = stats.get_value("finish_reason") if stats is not None else None
        if self.failed:
            self.status = "failed"
        elif reason is not None:
            self.status = _status(crawler, reason)

    def crawler_counts(self, crawler: Crawler) -> dict[str, int]:
        stats = _stats(crawler)
        return {name: stats.get_value(f"syndicrawl/{name}", 0) if stats is not None else 0 for name in COUNTERS}


def _stats(crawler: Crawler) -> StatsCollector | None:
    """The crawler's stats; None if it failed before making them (a component that cannot load)."""
    try:
        return crawler.stats
    except RuntimeError:  # Scrapy's "Crawler.stats is not set yet"
        return None


def _status(crawler: Crawler, finish_reason: str) -> str:
    """How a source's crawl ended. One that ran to its end with none of its feeds, sitemaps or start
    pages giving a feed, sitemap or page to read (each was a warning line: no connection, out of
    scope, an HTTP error, a redirect loop, a body over DOWNLOAD_MAXSIZE, not a feed) crawled
    nothing: failed."""
    status = {"finished": "finished", "shutdown": "interrupted"}.get(finish_reason, finish_reason)
    stats = _stats(crawler)
    if status == "finished" and stats is not None and not stats.get_value("syndicrawl/entry_points_answered"):
        return "failed"
    return status


def run_crawl(
    settings: Settings,
    sources: Sequence[Source],
    channel: ArchiveChannel,
    *,
    on_progress: Callable[[list[SourceProgress]], None] | None = None,
    progress_interval: float = 0.5,
) -> list[SourceProgress]:
    """Crawl ``sources`` into the archive through ``channel``'s writer, which this closes;
    returns each source's final figures. Raises ``LockHeld`` if a source is being crawled."""
    runs = [SourceProgress(source.name) for source in sources]
    crawlers: dict[str, Crawler] = {}  # a source's, once its turn has come

    # Until the writer has stored everything: a Ctrl-C while it finishes must not lose the summary.
    with _Interrupts() as interrupts:
        try:
            # The reactor is installed once, here.
            install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
            process = CrawlerProcess(process_settings(sources))
            # At most sources_at_once run, each with its own Crawler (own settings), made when its
            # turn comes (80 kB each); a queued one starts as another ends, unless the crawl is
            # stopping (it then stays unstarted and is reported interrupted or failed).
            turns = DeferredSemaphore(settings.sources_at_once)

            def start(source: Source, progress: SourceProgress) -> Deferred[None] | None:
                if interrupts.signum is not None or channel.failure is not None:
                    return None
                crawler = crawlers[source.name] = Crawler(SourceSpider, scrapy_settings(settings, source))
                crawler.signals.connect(_finisher(channel, crawler, progress), signal=signals.spider_closed, weak=False)
                return process.crawl(
                    crawler, source=source, archive=ArchiveContext(source.name, channel, settings.extract_enabled)
                ).addErrback(_crawl_failed, channel, crawler, progress)

            for source, progress in zip(sources, runs, strict=True):
                turns.run(start, source, progress)

            def report() -> None:
                channel.poll()
                for progress in runs:
                    if progress.name in crawlers:
                        progress.update(crawlers[progress.name], channel.counts.get(progress.name, {}))
                if on_progress is not None:
                    on_progress(runs)
                if channel.failure is not None and ticker.running:  # nothing can be stored: stop fetching
                    ticker.stop()
                    _stop(process)

            from twisted.internet import reactor, task  # installed by CrawlerProcess

            ticker = task.LoopingCall(report)
            reactor.callWhenRunning(lambda: deferred_from_coro(channel.connect()))  # type: ignore[attr-defined]
            reactor.callWhenRunning(ticker.start, progress_interval)  # type: ignore[attr-defined]
            reactor.callWhenRunning(interrupts.running, process)  # type: ignore[attr-defined]
            # What exists now (modules, settings, the crawlers) lives as long as the crawl: out of
            # the collector's sight, each collection scans only the crawl's own young objects.
            # Measured: the crawl process's CPU per page -25%, to a bare Scrapy crawl's.
            gc.freeze()
            channel.wait_ready()  # the writer holds the sources' locks: fetching may begin
            if interrupts.signum is None:  # else stopped before it began: nothing is fetched
                process.start(install_signal_handlers=False)  # _Interrupts handles them
        finally:
            # The writer stores everything it was sent, then closes the WARC files.
            files = channel.close()
            for progress in runs:
                if progress.name in crawlers:
                    progress.update(crawlers[progress.name], channel.counts.get(progress.name, {}))
                if progress.status == "running":  # never closed: stopped before its engine ran, or failed
                    progress.status = "failed" if interrupts.signum is None else "interrupted"
                progress.warc_files = files.get(progress.name, [])
    if on_progress is not None:
        on_progress(runs)
    return runs


class _Interrupts:
    """Ctrl-C and SIGTERM for the whole crawl, in place of Scrapy's and Twisted's handlers.

    Python's default handler raises KeyboardInterrupt wherever the main thread is: inside
    Scrapy's set-up its Deferreds caught it, and the crawl crashed later or ran to its end as
    if no one had asked it to stop. Scrapy's own handlers, once the reactor runs, left a
    source stopped before its spider opened looking failed, not interrupted (a crawl
    SIGTERMed in its first second exited 4). Here a signal is noted: before the reactor runs,
    the crawl does not start; once it runs, the crawlers and then the reactor are stopped, as
    Scrapy's handler does. A second signal interrupts at once (before the reactor runs) or
    stops the reactor without waiting for the crawlers (after), as Scrapy's second does.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._process: CrawlerProcess | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        again, self.signum = self.signum is not None, signum
        if self._process is None:
            if again:
                raise KeyboardInterrupt
            return
        from twisted.internet import reactor

        if again:
            logger.info("received %s again: stopping at once", signal.Signals(signum).name)
            reactor.callFromThread(_stop_reactor)  # type: ignore[attr-defined]
        else:
            logger.info("received %s: stopping (what was fetched is stored); send it again to stop at once",
                        signal.Signals(signum).name)  # fmt: skip
            reactor.callFromThread(_stop, self._process)  # type: ignore[attr-defined]

    def running(self, process: CrawlerProcess) -> None:
        """Called once the reactor runs: stop now if a signal came before."""
        self._process = process
        if self.signum is not None:
            _stop(process)


def _stop(process: CrawlerProcess) -> None:
    """Stop the crawlers, then the reactor, as Scrapy's own signal handler does: a crawler
    stopped before its engine started never closes, so the end of the crawls alone would not
    stop the reactor."""
    process.stop().addBoth(lambda _: _stop_reactor())


def _stop_reactor() -> None:
    from twisted.internet import reactor

    with contextlib.suppress(RuntimeError):  # ReactorNotRunning: already stopping
        reactor.stop()  # type: ignore[attr-defined]


def _crawl_failed(failure: Failure, channel: ArchiveChannel, crawler: Crawler, progress: SourceProgress) -> None:
    """A source whose crawl raised (a component that cannot load, a spider that cannot open):
    one line says why, its crawl is recorded as failed, and the other sources go on."""
    exc = failure.value
    logger.error("%s: the crawl failed: %s: %s", progress.name, type(exc).__name__, " ".join(str(exc).split()))
    progress.failed = True
    channel.send("finish", progress.name, "failed", progress.crawler_counts(crawler))


def _finisher(channel: ArchiveChannel, crawler: Crawler, progress: SourceProgress) -> Callable[..., Coroutine[None, None, None]]:
    """A spider_closed handler: tell the writer how the crawl ended, and wait until it has all of it."""

    async def finish(spider: Spider, reason: str) -> None:
        channel.send("finish", progress.name, _status(crawler, reason), progress.crawler_counts(crawler))
        await channel.flush()

    return finish
