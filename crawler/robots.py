"""Scrapy's robots.txt middleware, fixed so that every request waiting for robots.txt obeys it.

Scrapy 2.19 awaits one shared Deferred per host from every waiting request; under the
asyncio reactor only the first waiter receives the parser, the others receive None and are
let through unchecked. Start requests all wait at once, so a disallowed start URL was
fetched. Once the Deferred has fired the parser is stored per host, so a waiter that got
None reads it from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.robotstxt import RobotParser


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            parser = None if isinstance(stored, Deferred) else stored
        return parser
