"""Turn syndicrawl's settings and a source into Scrapy settings: the only home of component order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.settings import default_settings

from crawler.addresses import PRIVATE_DOMAINS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from syndicrawl.settings import Settings
    from syndicrawl.sources import Source

#: Scrapy components a crawl never runs, each with the reason. They are taken out of Scrapy's
#: base lists (``*_BASE``), where new defaults of a later Scrapy still arrive, rather than set to
#: None in ours: Scrapy imports every listed component, disabled or not, and two of these cost
#: 0.2 s of every crawl's start-up (the remote control imports aiohttp, the cookies middleware
#: tldextract).
UNUSED = frozenset({
    # Replaced: Scrapy's lets concurrent requests through before robots.txt is known (see
    # crawler/robots.py); its meta-refresh middleware decodes every page whole to read its
    # first 4096 characters (see crawler/refresh.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
    # Replaced: Scrapy's offsite filter ignores ports (see crawler/scope.py).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
    # Not needed, and each costs every response a pass: no HTTP auth is configured for a
    # source, and the crawl counts pages and bytes itself (``syndicrawl/*`` stats). An archive
    # crawl of public pages needs no session (the Set-Cookie headers are still archived), and
    # Scrapy's cookie middleware looks up the public-suffix list online on first use.
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",
    "scrapy.downloadermiddlewares.stats.DownloaderStats",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
    # Each spider middleware is one more async generator every request a page yields passes
    # through. A source's reach is bounded by its scope and backfill pages, not by link depth;
    # and the spider builds each request's meta itself, so the check for meta copied from a
    # response (a development aid) has nothing to find.
    "scrapy.spidermiddlewares.depth.DepthMiddleware",
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware",
    # Scrapy's telnet console and its remote control (an HTTP server that runs Python code
    # sent to it, announced by a job file in the user's profile directory) open ports nobody
    # here needs.
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.remote_control.RemoteControl",
    # Replaced: a response over DOWNLOAD_MAXSIZE counts as an error of its source (see
    # crawler/middlewares.py).
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware",
})  # fmt: skip

#: The only URL schemes a crawl fetches. Scrapy's other download handlers (ftp, file, data, s3)
#: are left out of its base list: its FTP handler times only the connect, so an ``ftp://`` link
#: to a port that accepts and never answers kept a crawl open forever; ``file:`` would read the
#: crawling machine's own files. The spider drops links to any other scheme with a warning
#: (``archive.db.urls.fetch_problem``); a request that still got through fails as unsupported.
FETCHED_SCHEMES = ("http", "https")

DOWNLOADER_MIDDLEWARES = {
    # Where Scrapy's offsite filter was: before robots.txt is fetched for a host out of scope.
    "crawler.scope.ScopeMiddleware": 50,
    "crawler.robots.RobotsTxtMiddleware": 100,
    # Above Retry (550) for exceptions, which also run from the highest number down: an address
    # refused is not retried.
    "crawler.addresses.AddressGuardMiddleware": 560,
    "crawler.refresh.MetaRefreshMiddleware": 580,
    "crawler.middlewares.BoundedCompressionMiddleware": 590,
    # Above HttpCompression (590), Redirect (600) and Retry (550) for responses, which run from
    # the highest number down: it sees the body still content-encoded, every redirect hop and
    # every retried attempt. Below HttpCache (900) so cached replays are never archived again.
    "crawler.middlewares.WarcCaptureMiddleware": 880,
}

ITEM_PIPELINES = {
    "crawler.pipelines.ArchivePipeline": 300,
}


def process_settings(sources: Sequence[Source]) -> dict[str, Any]:
    """Settings of the crawl process, which hold for every source: its resolver refuses loopback,
    private and link-local addresses except to the hosts of sources that allow them."""
    private = sorted({domain for source in sources if source.private_addresses for domain in source.allowed_domains})
    return {
        "TELNETCONSOLE_ENABLED": False,
        # The CLI configures logging; Scrapy must not install its own root handler.
        "LOG_INSTALL_ROOT_HANDLER": False,
        "TWISTED_DNS_RESOLVER": "crawler.addresses.GuardedResolver",
        PRIVATE_DOMAINS: private,
    }


def _base(name: str) -> dict[str, int]:
    """Scrapy's default component list ``name`` without the ``UNUSED`` components."""
    return {path: order for path, order in getattr(default_settings, name).items() if path not in UNUSED}


def scrapy_settings(settings: Settings, source: Source) -> dict[str, Any]:
    """Scrapy settings for crawling one source; a source's own delay and backfill win."""
    delay = settings.download_delay if source.download_delay is None else source.download_delay
    return {
        "BOT_NAME": "syndicrawl",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": settings.autothrottle and delay > 0,
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.1),
        "CONCURRENT_REQUESTS": settings.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrent_requests_per_domain,
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "DOWNLOAD_MAXSIZE": settings.download_maxsize,
        # Scrapy's warning of a body past half the limit names no source, and such a page is
        # stored like any other; one over the limit is an error of its source (crawler/middlewares.py).
        "DOWNLOAD_WARNSIZE": 0,
        # A page yields at most one item; Scrapy's default of 100 starts 100 asyncio tasks per
        # response (measured: half of a bare crawl's reactor time).
        "CONCURRENT_ITEMS": 4,
        # One retry: a flaky page is captured twice at most (each attempt lands in the WARC).
        "RETRY_TIMES": 1,
        # The spider reports a request that failed for good, one line naming the source (one per
        # host it cannot connect to); Scrapy's error line for each is noise on top.
        "RETRY_GIVE_UP_LOG_LEVEL": "DEBUG",
        "STATS_CLASS": "crawler.stats.CrawlStats",
        # The delay holds per host across sources, not per source (see crawler/politeness.py).
        "DOWNLOADER": "crawler.politeness.HostDownloader",
        # ... and across processes and machines, when crawls run from a queue.
        "SYNDICRAWL_HOSTS_REDIS": settings.queue_redis_url,
        "SYNDICRAWL_HOSTS_PREFIX": settings.redis_prefix,
        "DOWNLOADER_MIDDLEWARES_BASE": _base("DOWNLOADER_MIDDLEWARES_BASE"),
        "DOWNLOADER_MIDDLEWARES": DOWNLOADER_MIDDLEWARES,
        "SPIDER_MIDDLEWARES_BASE": _base("SPIDER_MIDDLEWARES_BASE"),
        "EXTENSIONS_BASE": _base("EXTENSIONS_BASE"),
        "DOWNLOAD_HANDLERS_BASE": dict.fromkeys(FETCHED_SCHEMES, "crawler.downloads.HttpDownloadHandler"),
        "ITEM_PIPELINES": ITEM_PIPELINES,
        "SYNDICRAWL_BACKFILL_PAGES": settings.backfill_pages if source.backfill_pages is None else source.backfill_pages,
        "SYNDICRAWL_MAX_FEED_ENTRIES": settings.max_feed_entries,
        "LOG_LEVEL": "WARNING",
    }
