"""Run one crawl of some sources in this process and report what it stored.

Twisted's reactor cannot be restarted, so a process runs one crawl: the CLI calls this once;
the scheduler (later) starts a subprocess per crawl. All sources crawl concurrently, each with
its own spider, scope, delay and WARC files, sharing one archive-writer thread and one
extractor pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.utils.reactor import install_reactor

from archive.db import Database
from archive.extract import ExtractorPool
from archive.store import CaptureStore
from archive.syndication import extract_for_matching
from crawler.context import ArchiveContext
from crawler.settings import scrapy_settings
from crawler.spiders.source import SourceSpider

if TYPE_CHECKING:
    from syndicrawl.settings import Settings
    from syndicrawl.sources import Source

logger = logging.getLogger(__name__)

#: Progress figures read from each crawler's stats.
COUNTERS = ("pages", "articles", "bytes", "errors", "extraction_failed", "skipped")


@dataclass
class SourceProgress:
    """One source's figures so far; ``status`` is set once its spider has closed."""

    name: str
    pages: int = 0
    articles: int = 0
    bytes: int = 0
    errors: int = 0
    extraction_failed: int = 0
    skipped: int = 0
    status: str = "running"
    warc_files: list[Path] = field(default_factory=list)

    def update(self, crawler: Crawler) -> None:
        assert crawler.stats is not None
        for name in COUNTERS:
            setattr(self, name, crawler.stats.get_value(f"syndicrawl/{name}", 0))
        reason = crawler.stats.get_value("finish_reason")
        if reason is not None:
            self.status = {"finished": "finished", "shutdown": "interrupted"}.get(reason, reason)


def run_crawl(
    settings: Settings,
    sources: Sequence[Source],
    *,
    on_progress: Callable[[list[SourceProgress]], None] | None = None,
    progress_interval: float = 0.5,
) -> list[SourceProgress]:
    """Crawl ``sources`` into the archive; returns each source's final figures."""
    settings.warc_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")
    extractor = (
        ExtractorPool(
            settings.extract_workers,
            settings.extract_timeout,
            max_bytes=settings.extract_max_bytes,
            function=partial(extract_for_matching, fast=settings.extract_fast, max_bytes=settings.extract_max_bytes),
        )
        if settings.extract_enabled
        else None
    )
    # Each source gets its own Crawler (own settings); the reactor is installed once, here.
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    # The CLI configures logging; Scrapy must not install its own root handler.
    process = CrawlerProcess({"TELNETCONSOLE_ENABLED": False, "LOG_INSTALL_ROOT_HANDLER": False})
    runs: list[tuple[Crawler, CaptureStore, SourceProgress]] = []
    try:
        for source in sources:
            store = CaptureStore(
                db,
                settings.warc_dir,
                source.name,
                source.kind,
                max_size=settings.warc_max_size,
                software=settings.user_agent,
            )
            crawler = Crawler(SourceSpider, scrapy_settings(settings, source))
            process.crawl(crawler, source=source, archive=ArchiveContext(store, writer, extractor))
            runs.append((crawler, store, SourceProgress(source.name)))

        def report() -> None:
            for crawler, _, progress in runs:
                progress.update(crawler)
            if on_progress is not None:
                on_progress([progress for _, _, progress in runs])

        from twisted.internet import reactor, task  # installed by CrawlerProcess

        ticker = task.LoopingCall(report)
        reactor.callWhenRunning(ticker.start, progress_interval)  # type: ignore[attr-defined]
        process.start()
    finally:
        # Drain the writer before closing files: every capture the crawl saw gets its row.
        writer.shutdown(wait=True)
        if extractor is not None:
            extractor.close()
        for crawler, store, progress in runs:
            progress.update(crawler)
            if progress.status == "running":
                progress.status = "failed"
            counts = {name: getattr(progress, name) for name in COUNTERS}
            progress.warc_files = store.finish(progress.status, counts)
        db.dispose()
    if on_progress is not None:
        on_progress([progress for _, _, progress in runs])
    return [progress for _, _, progress in runs]
