"""The Scrapy components a crawl runs: Scrapy's defaults, minus the ones syndicrawl replaces or never needs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from scrapy.settings import Settings as ScrapySettings
from scrapy.settings import default_settings
from scrapy.utils.conf import build_component_list

from crawler.settings import UNUSED, scrapy_settings
from syndicrawl.settings import load_settings
from syndicrawl.sources import Source


def components(kind: str) -> list[str]:
    """The enabled components of ``kind`` (e.g. ``DOWNLOADER_MIDDLEWARES``), in the order Scrapy calls them."""
    settings = ScrapySettings(scrapy_settings(load_settings(), Source(name="site", kind="origin")))
    return build_component_list(settings.getwithbase(kind))


def test_scrapys_defaults_still_run_around_the_warc_capture() -> None:
    middlewares = components("DOWNLOADER_MIDDLEWARES")
    for default in ("useragent.UserAgentMiddleware", "retry.RetryMiddleware", "redirect.RedirectMiddleware",
                    "downloadtimeout.DownloadTimeoutMiddleware"):  # fmt: skip
        assert f"scrapy.downloadermiddlewares.{default}" in middlewares
    # Scrapy's decompression, in its place, a response over DOWNLOAD_MAXSIZE an error of its source.
    compression = middlewares.index("crawler.middlewares.BoundedCompressionMiddleware")
    assert middlewares.index("scrapy.downloadermiddlewares.retry.RetryMiddleware") < compression
    # Responses pass the middlewares from the last to the first: the capture sees each one
    # before decompression, redirects and retries, and robots.txt is checked before all.
    capture = middlewares.index("crawler.middlewares.WarcCaptureMiddleware")
    assert capture > compression
    assert capture > middlewares.index("scrapy.downloadermiddlewares.redirect.RedirectMiddleware")
    assert middlewares.index("crawler.robots.RobotsTxtMiddleware") < middlewares.index("scrapy.downloadermiddlewares.retry.RetryMiddleware")
    assert "scrapy.extensions.corestats.CoreStats" in components("EXTENSIONS")
    assert "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware" in components("SPIDER_MIDDLEWARES")


def test_unused_components_are_neither_run_nor_loaded() -> None:
    kinds = ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS")
    # Each is one of Scrapy's defaults: one it renamed would stay on under its new name.
    assert UNUSED <= {path for kind in kinds for path in getattr(default_settings, f"{kind}_BASE")}
    for kind in kinds:
        assert not UNUSED.intersection(components(kind)), kind
    # Scrapy imports every component its lists name, disabled or not: the remote control
    # would load aiohttp, the cookies middleware tldextract (0.2 s of each crawl's start-up).
    probe = textwrap.dedent(
        """
        import sys
        from scrapy.crawler import Crawler
        from scrapy.utils.reactor import install_reactor
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        from crawler.settings import scrapy_settings
        from crawler.spiders.source import SourceSpider
        from syndicrawl.settings import load_settings
        from syndicrawl.sources import Source
        crawler = Crawler(SourceSpider, scrapy_settings(load_settings(), Source(name="site", kind="origin")))
        crawler._apply_settings()  # builds the extensions, as crawl() does
        from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
        from scrapy.core.spidermw import SpiderMiddlewareManager
        DownloaderMiddlewareManager.from_crawler(crawler)  # and the middlewares, as its engine does
        SpiderMiddlewareManager.from_crawler(crawler)
        from scrapy.core.downloader.handlers import DownloadHandlers
        print(sorted(DownloadHandlers(crawler)._schemes))  # and the download handlers, as its downloader does
        print(sorted(name for name in ("aiohttp", "tldextract", "scrapy.extensions.remote_control",
                                       "scrapy.core.downloader.handlers.ftp", "scrapy.core.downloader.handlers.s3")
                     if name in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # Only http(s) is fetched: Scrapy's FTP handler times only the connect (a crawl hung on an
    # ftp:// link to a silent port), and file: would read this machine's files.
    assert result.stdout.split("\n")[:2] == ["['http', 'https']", "[]"], result.stdout


def test_only_http_and_https_have_download_handlers() -> None:
    handlers = ScrapySettings(scrapy_settings(load_settings(), Source(name="site", kind="origin"))).getwithbase("DOWNLOAD_HANDLERS")
    assert sorted(handlers) == ["http", "https"]
    assert set(default_settings.DOWNLOAD_HANDLERS_BASE) > {"http", "https", "ftp", "file"}  # what was left out
