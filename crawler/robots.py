"""Scrapy's robots.txt middleware, fixed so that every request waiting for robots.txt obeys it.

Scrapy 2.19 awaits one shared Deferred per host from every waiting request; under the
asyncio reactor only the first waiter receives the parser, the others receive None and are
let through unchecked. Start requests all wait at once, so a disallowed start URL was
fetched. Once the Deferred has fired the parser is stored per host, so a waiter that got
None reads it from there.

A robots.txt that cannot be fetched is one warning line naming the source, not Scrapy's error
with a traceback; one whose host cannot be connected to is not reported here: the requests that
waited for it fail the same way, and the spider reports the host once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares import robotstxt
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler.spiders.source import connect_failure

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser


def _not_scrapys_error(record: logging.LogRecord) -> bool:
    """Drops Scrapy's "Error downloading" of robots.txt (with its traceback): ``_robots_error`` says it."""
    return record.levelno < logging.ERROR


class RobotsTxtMiddleware(robotstxt.RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        robotstxt.logger.addFilter(_not_scrapys_error)  # once: a filter is added only if absent

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            parser = None if isinstance(stored, Deferred) else stored
        return parser

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        super()._robots_error(exc, netloc)
        if not isinstance(exc, IgnoreRequest) and connect_failure(exc) is None:
            reason = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
            self.crawler.spider.problem(f"robots.txt of {netloc}: {reason}; its pages are fetched as if it allowed them")  # type: ignore[union-attr]
