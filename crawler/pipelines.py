"""The archiving pipeline: hands feeds and pages to the archive writer process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.items import CapturedPage, FeedPage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from typing_extensions import Self


class ArchivePipeline:
    """Sends feeds' entries and pages' extraction orders; waits only while the writer is behind,
    which is what slows the crawl down to the pace of extraction and writing."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: CapturedPage | FeedPage) -> CapturedPage | FeedPage:
        archive = self.crawler.spider.archive  # type: ignore[union-attr]
        if isinstance(item, FeedPage):
            archive.channel.send("feed", archive.source, item.url, item.kind, item.title, item.entries, item.poll)
        else:
            archive.channel.send("page", archive.source, item.capture, item.html, item.metadata, item.evidence)
        await archive.channel.drain()
        return item
