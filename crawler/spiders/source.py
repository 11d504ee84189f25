"""The generic source spider: feeds, sitemaps and listing pages lead to article pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectError

from archive.db.urls import fetch_problem
from crawler import discovery, polls
from crawler.feeds import parse_sitemap, read_feed
from crawler.items import CapturedPage, FeedPage
from crawler.links import article_links, feed_links, older_page
from crawler.middlewares import CAPTURE, METADATA
from crawler.polls import POLL_FEED, RECHECK, PolledSource
from crawler.scope import in_scope

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

    from crawler.context import ArchiveContext
    from syndicrawl.sources import Source

logger = logging.getLogger(__name__)

T = TypeVar("T")

_FEED_FIRST = 10  # feeds before pages: their entries carry dates and authors as evidence
#: request.meta key marking a source's feeds, sitemaps and start pages (and their redirects).
ENTRY_POINT = "syndicrawl_entry_point"
#: Link hops from an entry point; a listing's older pages are as deep as the listing.
DEPTH = "syndicrawl_depth"

#: One feed or sitemap parsed at a time: threads share the GIL, so more would not parse faster,
#: and one big feed at a time bounds the memory parsing takes (about 3 KB an entry in feedparser).
_PARSING = asyncio.Semaphore(1)
_STOP_CHECK = 0.5  # seconds between two looks, during a parse, at whether the crawl is stopping


async def off_reactor(crawler: Crawler, func: Callable[..., T], *args: Any) -> T | None:
    """``func(*args)`` on a thread of its own: feedparser takes about a millisecond an entry, and
    a feed of 100,000 entries parsed on the reactor stopped every source of the crawl for minutes.

    None, at once, when the crawl is told to stop meanwhile (Scrapy's stop would wait for the
    callback, so for the parse); the thread is a daemon, which Python does not wait for at exit
    (an executor's thread, Twisted's pool's too, it would).
    """
    async with _PARSING:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()

        def settle(outcome: Callable[[], None]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the crawl has stopped
                loop.call_soon_threadsafe(lambda: done.done() or outcome())

        def run() -> None:
            try:
                result = func(*args)
            except Exception as exc:  # noqa: BLE001 - raised where the spider awaits it
                settle(lambda exc=exc: done.set_exception(exc))
            else:
                settle(lambda: done.set_result(result))

        threading.Thread(target=run, name="feed-parser", daemon=True).start()
        while crawler.crawling:
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(done), _STOP_CHECK)
        return None


def connect_failure(exc: BaseException) -> str | None:
    """Why no connection could be made to a host (refused, no such host, unreachable); None if one was."""
    if isinstance(exc, DownloadConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, CannotResolveHostError):
        return "host name not found (DNS lookup failed)"
    if isinstance(exc, ConnectError):
        return " ".join(str(exc).split())
    return None


class SourceSpider(scrapy.Spider):
    """Crawls one source. Scope comes from the source's ``allowed_domains`` (Scrapy's offsite filter)."""

    name = "source"

    def __init__(self, source: Source, archive: ArchiveContext, **kwargs: Any) -> None:
        super().__init__(name=source.name, **kwargs)
        self.source = source
        self.archive = archive
        self.allowed_domains = list(source.allowed_domains)
        self._unreachable: set[str] = set()  # hosts already reported as unreachable
        self._unfetchable: set[str] = set()  # links already reported as not fetchable
        self._requested: set[str] = set()  # URLs requested, up to the source's max_pages

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_dropped, signal=signals.request_dropped)
        return spider

    @property
    def backfill_pages(self) -> int:
        return int(self.settings.getint("SYNDICRAWL_BACKFILL_PAGES"))

    @property
    def max_feed_entries(self) -> int:
        return int(self.settings.getint("SYNDICRAWL_MAX_FEED_ENTRIES"))

    @property
    def rechecks(self) -> tuple[Any, ...]:
        """The article pages this poll fetches again (none unless this crawl is a poll)."""
        return self.source.rechecks if isinstance(self.source, PolledSource) else ()

    @property
    def plans(self) -> dict[str, Any]:
        """Per configured feed, what a poll sends and knows (empty unless this crawl is a poll)."""
        return dict(self.source.plans) if isinstance(self.source, PolledSource) else {}

    def _request(self, url: str, kind: str, callback: Any, headers: dict[str, str] | None = None, **meta: Any) -> scrapy.Request:
        meta["syndicrawl_kind"] = kind
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            headers=headers,
            meta=meta,
            priority=_FEED_FIRST if kind in {"feed", "sitemap"} else 0,
        )

    def _within_budget(self, url: str) -> bool:
        """Whether ``url`` may be requested: already requested, or the source's ``max_pages`` not
        reached (one warning when it is: discovery on a big site would go on for days)."""
        if url in self._requested:
            return True
        if len(self._requested) < self.source.max_pages:
            self._requested.add(url)
            return True
        if len(self._requested) == self.source.max_pages:
            self._requested.add("")  # reported
            self.problem(f"{self.source.max_pages} pages requested (max_pages); further links not followed")
        return False

    def _follow(self, url: str, kind: str, callback: Any, **meta: Any) -> Iterator[scrapy.Request]:
        """The request for a link found on a page (``meta["syndicrawl_from"]``), or nothing and one
        warning per URL when a crawl cannot fetch it: only http(s) is fetched (an ``ftp://`` link
        to a port that never answered kept a crawl open forever), and a bad port stopped the writer.
        Nothing either past the source's page budget."""
        problem = fetch_problem(url)
        if problem is None:
            if self._within_budget(url):
                yield self._request(url, kind, callback, **meta)
        elif url not in self._unfetchable:
            self._unfetchable.add(url)
            self.problem(f"{meta.get('syndicrawl_from')}: links to {url!r}: {problem}; skipped")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The source's entry points. One outside its own ``allowed_domains`` is one warning: Scrapy's
        offsite filter drops it without a word, and a source left with none crawled nothing."""
        plans = self.plans
        requests = [
            # A 304 reaches parse_feed: it is the answer a conditional poll hopes for.
            self._request(
                url, "feed", self.parse_feed, polls.conditional_headers(plans.get(url)),
                **{POLL_FEED: url, "handle_httpstatus_list": [304]},
            )
            for url in self.source.feeds
        ]
        requests += [
            # A 304 reaches parse_article: the page has not changed since the capture asked about.
            self._request(
                plan.url, "article", self.parse_article, polls.conditional_headers(plan),
                **{RECHECK: plan.capture_id, "handle_httpstatus_list": [304], DEPTH: self.source.max_depth},
            )
            for plan in self.rechecks
        ]
        requests += [self._request(url, "sitemap", self.parse_sitemap) for url in self.source.sitemaps]
        listings = list(self.source.start_urls)
        if self.backfill_pages and not listings:
            # A feed-only source: its archive pages hang off the site's front page.
            listings = [urljoin(url, "/") for url in self.source.feeds]
        requests += [self._request(url, "listing", self.parse_listing, syndicrawl_page=0) for url in dict.fromkeys(listings)]
        configured = {*self.source.feeds, *self.source.sitemaps, *self.source.start_urls}
        for request in requests:
            if in_scope(request.url, self.source.allowed_domains):
                request.meta[ENTRY_POINT] = True
                self._requested.add(request.url)
                yield request
            elif request.url in configured:  # a front page derived from a feed goes with its feed
                self.problem(f"{request.url}: outside the source's allowed_domains "
                             f"({', '.join(self.source.allowed_domains)}); not fetched")

    async def parse_feed(self, response: scrapy.http.Response) -> AsyncIterator[Any]:
        polled = POLL_FEED in response.meta
        if response.status == 304:
            self._answered(response)
            logger.info("%s: %s not modified", self.source.name, response.url)
            yield FeedPage(response.url, "unknown", None, [], polls.fetched(response))
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        plan = self.plans.get(response.meta.get(POLL_FEED, ""))
        known = plan.known_entries if plan is not None else frozenset()  # a poll fetches only what it has not seen
        read = await off_reactor(
            self.crawler, read_feed, response.body, response.url, content_type, known, self.max_feed_entries
        )
        if not self.crawler.crawling:  # stopping: the parse is left to itself
            return
        if read is None:
            reason = "not a feed" if response.body.strip() else "not a feed (empty body)"
            if polled:
                yield FeedPage(response.url, "unknown", None, [], polls.fetched(response, error=reason))
            if isinstance(response, HtmlResponse) and response.body.strip():
                for output in self.parse_listing(response):
                    yield output
            else:
                self.problem(f"{response.url}: {reason}")
            return
        self._answered(response)
        feed, selection = read
        for problem in feed.problems:
            self.problem(problem)
        if selection.left:
            total = len(selection.fetch) + selection.left
            logger.warning("%s: %s: %d new entries; the newest %d fetched (max_feed_entries), %d left for later polls",
                           self.source.name, response.url, total, len(selection.fetch), selection.left)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("syndicrawl/feed_entries_left", selection.left)
        depth = response.meta.get(DEPTH, 0) + 1
        for entry in selection.fetch:
            if not self._within_budget(entry["url"]):
                break
            evidence = {"via": "feed", **{k: entry[k] for k in ("title", "author", "published", "updated")}}
            yield self._request(
                entry["url"],
                "article",
                self.parse_article,
                syndicrawl_from=response.url,
                syndicrawl_feed=response.url,
                syndicrawl_evidence=evidence,
                **{DEPTH: depth},
            )
        yield FeedPage(response.url, feed.kind, feed.title, feed.entries, polls.fetched(response) if polled else None)

    async def parse_sitemap(self, response: scrapy.http.Response) -> AsyncIterator[scrapy.Request]:
        max_size = self.settings.getint("DOWNLOAD_MAXSIZE")
        sitemap = await off_reactor(self.crawler, parse_sitemap, response.body, response.url, max_size)
        if sitemap is None or not self.crawler.crawling:  # stopping: the parse is left to itself
            return
        for problem in sitemap.problems:
            self.problem(problem)
        if sitemap.entries or not sitemap.problems:
            self._answered(response)
        depth = response.meta.get(DEPTH, 0)
        for loc, lastmod in sitemap.entries:
            if sitemap.index:
                for request in self._follow(loc, "sitemap", self.parse_sitemap, syndicrawl_from=response.url, **{DEPTH: depth}):
                    yield request
            else:
                evidence = {"via": "sitemap", "updated": lastmod}
                for request in self._follow(
                    loc, "article", self.parse_article, syndicrawl_from=response.url, syndicrawl_evidence=evidence,
                    **{DEPTH: depth + 1},
                ):
                    yield request

    def parse_listing(self, response: scrapy.http.Response) -> Iterator[Any]:
        if not isinstance(response, HtmlResponse):
            self.problem(f"{response.url}: not an HTML page")
            return
        self._answered(response)
        depth = response.meta.get(DEPTH, 0)
        for url in feed_links(response):
            yield from self._follow(url, "feed", self.parse_feed, syndicrawl_from=response.url, **{DEPTH: depth})
        themed = article_links(response)
        yield from self._follow_articles(response, themed)
        page = response.meta.get("syndicrawl_page", 0)
        if page < self.backfill_pages:
            older = older_page(response)  # a known theme's, else the page's structure
            pages = [(older, page + 1)] if older else discovery.older_pages(response, self.source.allowed_domains, page)
            for url, number in pages:
                if number <= self.backfill_pages:
                    yield from self._follow(
                        url, "listing", self.parse_listing, syndicrawl_from=response.url, syndicrawl_page=number,
                        **{DEPTH: depth},
                    )
        # A start URL (or a redirect to one) may be an article itself rather than a list of them.
        if CAPTURE in response.meta:
            # A known theme's listing is none; any other page's extraction says (archive.ingest.verdict).
            is_article = not themed or response.css('meta[property="og:type"]::attr(content)').get() == "article"
            yield CapturedPage(
                url=response.url,
                html=response.text if is_article and self.archive.extract else None,
                capture=response.meta[CAPTURE],
                metadata=response.meta[METADATA],
                evidence=response.meta.get("syndicrawl_evidence", {}),
            )

    def _follow_articles(self, response: HtmlResponse, themed: list[str]) -> Iterator[scrapy.Request]:
        """Requests for a page's article links (``themed``, a known theme's, else found by the page's
        structure), one link hop deeper than the page, up to the source's ``max_depth``."""
        links = themed or discovery.article_links(response, self.source.allowed_domains)
        if len(links) > self.max_feed_entries:  # a page of 10,000 links is a feed of as many entries
            logger.warning("%s: %s: %d article links; the first %d followed (max_feed_entries)",
                           self.source.name, response.url, len(links), self.max_feed_entries)
            links = links[: self.max_feed_entries]
        depth = response.meta.get(DEPTH, 0) + 1
        if depth <= self.source.max_depth:
            for url in links:
                yield from self._follow(url, "article", self.parse_article, syndicrawl_from=response.url, **{DEPTH: depth})

    def _answered(self, response: scrapy.http.Response) -> None:
        """Count an entry point (a configured feed, sitemap or start page, or where it redirected)
        that gave something to read. Only those: a source whose entry points all gave none (a gzip
        bomb, a redirect loop, an empty 200, an HTTP error) crawled nothing, yet each was an
        answer, and it ended 'finished' (``crawler.runner._status``)."""
        if response.meta.get(ENTRY_POINT):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("syndicrawl/entry_points_answered")

    def parse_article(self, response: scrapy.http.Response) -> Iterator[scrapy.Request]:
        """The archive writer extracts article pages (see WarcCaptureMiddleware); below the source's
        ``max_depth``, their links are followed too (a section page linked from the front page).
        A recheck's 304 is the page unchanged: its revisit record is all there is to keep."""
        if RECHECK in response.meta:
            self._answered(response)
            if response.status == 304:
                logger.info("%s: %s not modified", self.source.name, response.url)
                return
        if not isinstance(response, HtmlResponse):
            self.problem(f"{response.url}: not an HTML page ({response.headers.get('Content-Type', b'?').decode()})")
        elif response.meta.get(DEPTH, 0) < self.source.max_depth:
            yield from self._follow_articles(response, article_links(response))

    def on_error(self, failure: Failure) -> Iterator[FeedPage]:
        """One line per failed request (HTTP error status, timeout, too many redirects), one per host
        that cannot be connected to (refused, no such host); the crawl goes on.

        A configured feed's failure is also an outcome for its polling state.
        """
        request = failure.request  # type: ignore[attr-defined]
        if POLL_FEED in request.meta:
            yield FeedPage(request.url, "unknown", None, [], polls.failed(request, failure))
        unreachable = connect_failure(failure.value)
        if unreachable is not None:
            host = urlsplit(request.url).netloc
            if host not in self._unreachable:
                self._unreachable.add(host)
                self.problem(f"cannot connect to {host}: {unreachable}")
            return
        redirects = request.meta.get("redirect_urls", [])
        if failure.check(IgnoreRequest) and request.meta.get("redirect_times", 0) >= self.settings.getint("REDIRECT_MAX_TIMES"):
            self.problem(f"{redirects[0]}: more than {len(redirects)} redirects; not followed")
            return
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # robots.txt disallows it, or it (or a redirect to it) is out of the source's scope.
            logger.info("%s: not fetched: %s (%s)", self.source.name, request.url, failure.getErrorMessage())
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("syndicrawl/skipped")
            return
        response = getattr(failure.value, "response", None)
        location = response.headers.get("Location") if response is not None and 300 <= response.status < 400 else None
        if location:
            # Scrapy's redirect middleware follows http(s) only and hands back the redirect itself.
            target = location.decode("latin-1")
            with contextlib.suppress(ValueError):  # 'http://[x': fetch_problem says why
                target = urljoin(request.url, target)
            problem = fetch_problem(target)
            if problem is not None:
                self.problem(f"{request.url}: redirects to {target!r}: {problem}; not followed")
                return
        if response is not None and response.status == 404 and request.meta.get("syndicrawl_kind") == "listing":
            logger.info("%s: end of the archive pages at %s", self.source.name, request.url)
            return
        reason = f"HTTP {response.status}" if response is not None else failure.getErrorMessage()
        self.problem(f"{request.url}: {reason}")

    def on_dropped(self, request: scrapy.Request) -> None:
        """A redirect back to a URL of its own chain is dropped as a duplicate request: Scrapy says
        nothing, so the loop is one warning here."""
        redirects = request.meta.get("redirect_urls", [])
        if request.url in redirects:
            self.problem(f"{redirects[0]}: redirect loop ({' -> '.join([*redirects, request.url])}); not followed")

    def problem(self, message: str) -> None:
        """One warning line naming the source, counted in its errors."""
        logger.warning("%s: %s", self.source.name, message)
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("syndicrawl/errors")
