"""The archiving pipeline: extraction in worker processes, then the article row, off the reactor."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from archive.errors import ExtractionError
from crawler.items import CapturedPage, FeedPage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self

    from archive.syndication import Extraction

logger = logging.getLogger(__name__)


class ArchivePipeline:
    """Stores feeds' entries and articles' extractions; a failed extraction is stored as failed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: CapturedPage | FeedPage) -> CapturedPage | FeedPage:
        archive = self.crawler.spider.archive  # type: ignore[union-attr]
        stats = self.crawler.stats
        assert stats is not None
        if isinstance(item, FeedPage):
            await asyncio.wrap_future(
                archive.writer.submit(archive.store.store_feed, item.url, item.kind, item.title, item.entries, item.poll)
            )
            return item
        capture_future = asyncio.wrap_future(item.capture)
        if item.html is None:
            capture = await capture_future
            await asyncio.wrap_future(archive.writer.submit(archive.store.store_metadata, capture, item.metadata))
            return item
        assert archive.extractor is not None  # html is only kept when extraction is on
        extraction: Extraction | None = None
        error = None
        try:
            extraction = await asyncio.wrap_future(archive.extractor.submit(item.html, item.url))
        except ExtractionError as exc:
            error = str(exc)
            logger.warning("%s: extraction failed: %s", archive.store.source, error)
            stats.inc_value("syndicrawl/extraction_failed")
            stats.inc_value("syndicrawl/errors")
        capture = await capture_future
        await asyncio.wrap_future(
            archive.writer.submit(archive.store.store_article, capture, extraction, error, item.metadata, item.evidence)
        )
        if extraction is not None:
            stats.inc_value("syndicrawl/articles")
        return item
