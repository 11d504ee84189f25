"""Scrapy's robots.txt middleware, with each host's robots.txt fetched once for every source and worker.

Scrapy's middleware keeps parsers per crawler, so a crawl of 200 sources on one host fetched its
robots.txt 200 times, and four workers each did again. Here a host's robots.txt is fetched by the
first source that needs it; the other sources of the process wait for that fetch. With
``[queue] redis_url`` set, its outcome is kept in Redis for ``KEPT`` seconds (as Google keeps
robots.txt a day), for every process and machine: a fetch is claimed there first, and the others
wait for its outcome. An answer below 500 is kept (a 4xx means no robots.txt: everything allowed,
as in RFC 9309); a 5xx or a host that could not be reached is not, so the next crawl asks again
(within this crawl, a 5xx answer's body is obeyed, as Scrapy does, and an unreachable one allows all).

Every request waiting for robots.txt obeys it: Scrapy 2.19 awaits one Deferred per host from every
waiter, and under the asyncio reactor only the first receives the parser (the others receive None
and were let through unchecked), so waiters here await an asyncio task, which each receives whole.

A robots.txt that cannot be fetched is one warning line naming the source that fetched it, not
Scrapy's error with a traceback; one whose host cannot be connected to is not reported here: the
requests that waited for it fail the same way, and the spider reports the host once.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.downloadermiddlewares import robotstxt
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from crawler.spiders.source import connect_failure

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser

#: Seconds a robots.txt is kept in Redis.
KEPT = 24 * 3600
#: Seconds between two looks at Redis while another process fetches a robots.txt.
_POLL = 0.1


class RedisRobots:
    """Each host's robots.txt body in Redis keys ``PREFIX robots:ORIGIN``; ``PREFIX robots-fetch:ORIGIN``
    is held by the process fetching it (for ``claim_ttl`` s at most: a killed worker's claim lapses)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis  # only when configured: a crawl on one machine never loads it

        self.client = redis.Redis.from_url(url, socket_timeout=10)
        self.prefix = prefix

    def kept(self, origin: str) -> bytes | None:
        return self.client.get(f"{self.prefix}robots:{origin}")  # type: ignore[return-value]

    def claim(self, origin: str, claim_ttl: float) -> bool:
        return bool(self.client.set(f"{self.prefix}robots-fetch:{origin}", b"1", nx=True, px=int(claim_ttl * 1000)))

    def keep(self, origin: str, body: bytes | None) -> None:
        """Ends the claim; ``body``, unless None, is kept for every process."""
        with self.client.pipeline() as pipe:
            if body is not None:
                pipe.set(f"{self.prefix}robots:{origin}", body, ex=KEPT)
            pipe.delete(f"{self.prefix}robots-fetch:{origin}")
            pipe.execute()


@cache
def redis_robots(url: str, prefix: str) -> RedisRobots:
    """One connection for every crawler of the process."""
    return RedisRobots(url, prefix)


#: Origin (``scheme://host:port``) -> the body to parse, None if there is none (everything allowed),
#: for every crawler of the process (a crawl is one process).
_BODIES: dict[str, asyncio.Task[bytes | None]] = {}


class RobotsTxtMiddleware(robotstxt.RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        url = crawler.settings.get("SYNDICRAWL_HOSTS_REDIS")
        self._redis = redis_robots(url, crawler.settings.get("SYNDICRAWL_HOSTS_PREFIX", "")) if url else None
        # A fetch lasts at most its timeout, once per try.
        self._claim_ttl = crawler.settings.getfloat("DOWNLOAD_TIMEOUT") * (crawler.settings.getint("RETRY_TIMES") + 1) + 5
        self._tasks: dict[str, asyncio.Task[RobotParser | None]] = {}

    async def robot_parser(self, request: Request) -> RobotParser | None:
        url = urlparse_cached(request)
        origin = f"{url.scheme}://{url.netloc}"
        if origin not in self._tasks:
            self._tasks[origin] = asyncio.ensure_future(self._parser(origin, request))
        return await self._tasks[origin]

    async def _parser(self, origin: str, request: Request) -> RobotParser | None:
        if origin not in _BODIES:
            _BODIES[origin] = asyncio.ensure_future(self._shared_body(origin))
        body = await _BODIES[origin]
        if body is None:
            return None
        parser = build_from_crawler(self._parserimpl, self.crawler, body)
        await self.crawler.signals.send_catch_log_async(signal=signals.robots_parsed, robotparser=parser, request=request)
        return parser

    async def _shared_body(self, origin: str) -> bytes | None:
        """The body of ``origin``'s robots.txt as kept in Redis, else as fetched here (and kept if lasting)."""
        if self._redis is None:
            return (await self._fetch(origin))[0]
        while (body := self._redis.kept(origin)) is None:
            if self._redis.claim(origin, self._claim_ttl):
                body, lasting = None, False
                try:
                    body, lasting = await self._fetch(origin)
                finally:
                    self._redis.keep(origin, (body or b"") if lasting else None)
                return body
            await asyncio.sleep(_POLL)
        return body

    async def _fetch(self, origin: str) -> tuple[bytes | None, bool]:
        """The body to obey (b"" for a 4xx, None if the fetch failed) and whether it is kept for later crawls."""
        self._stats.inc_value("robotstxt/request_count")
        robots = Request(f"{origin}/robots.txt", priority=self.DOWNLOAD_PRIORITY, meta={"dont_obey_robotstxt": True},
                         callback=NO_CALLBACK)
        try:
            response = await self.crawler.engine.download_async(robots)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - any failure: the pages are fetched as if it allowed them
            self._failed(exc, origin)
            return None, False
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if 400 <= response.status < 500:
            return b"", True
        return response.body, response.status < 500

    def _failed(self, exc: Exception, origin: str) -> None:
        if isinstance(exc, IgnoreRequest):
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        if connect_failure(exc) is None:
            reason = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
            netloc = origin.split("://", 1)[1]
            self.crawler.spider.problem(f"robots.txt of {netloc}: {reason}; its pages are fetched as if it allowed them")  # type: ignore[union-attr]
