"""WARC capture: every response, as received, goes to the archive writer process."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers import http11
from scrapy.downloadermiddlewares import httpcompression
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from twisted.internet.defer import CancelledError

from archive.ingest.messages import Fetched
from archive.warc.exchange import HttpExchange
from crawler.polls import RECHECK

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response
    from typing_extensions import Self

#: request.meta key holding the capture's number in this crawl.
CAPTURE = "syndicrawl_capture"
#: request.meta key holding the metadata record of a capture waiting for the spider's verdict.
METADATA = "syndicrawl_metadata"


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    # latin-1 maps bytes 1:1, so the archived header bytes are exactly what was on the wire.
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, values in headers.items() for v in values]


def to_exchange(request: Request, response: Response, fetched_at: datetime) -> HttpExchange:
    """The exchange as Scrapy saw it; Twisted has already removed hop-by-hop headers and chunking."""
    request_headers = _header_pairs(request.headers)
    if not any(name.lower() == "host" for name, _ in request_headers):
        request_headers.insert(0, ("Host", urlsplit(request.url).netloc))
    return HttpExchange(
        url=response.url,
        method=request.method,
        request_headers=request_headers,
        request_body=request.body,
        status=response.status,
        reason="",
        protocol=response.protocol or "HTTP/1.1",
        response_headers=_header_pairs(response.headers),
        body=response.body,
        fetched_at=fetched_at,
        ip_address=str(response.ip_address) if response.ip_address else None,
    )


def _evidence(meta: dict[str, Any], response: Response) -> dict[str, Any]:
    """What the feed or sitemap entry said of a page, and its ``Last-Modified`` header: the
    archive's last resort for its date (see ``archive.ingest.store._published``)."""
    evidence = dict(meta.get("syndicrawl_evidence", {}))
    last_modified = response.headers.get("Last-Modified")
    if last_modified:
        evidence["last_modified"] = last_modified.decode("latin-1")
    return evidence


class WarcCaptureMiddleware:
    """Sends each response to the archive writer process and passes it on unchanged.

    Placed above HttpCompressionMiddleware (see crawler/settings.py) so the stored body is the
    one the server sent. The reactor only builds and pickles the exchange. Its number rides
    in ``request.meta[CAPTURE]`` when the spider's verdict on the page is still to come.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._numbers = itertools.count()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Response:
        spider = self.crawler.spider
        archive = spider.archive  # type: ignore[union-attr]
        meta = request.meta
        kind = meta.get("syndicrawl_kind") or ("robots" if urlsplit(request.url).path == "/robots.txt" else "page")
        metadata = {
            "source": archive.source,
            "kind": kind,
            "feed": meta.get("syndicrawl_feed"),
            "discovered_from": meta.get("syndicrawl_from"),
        }
        # An article page is extracted by the archive writer; a listing page waits for the
        # spider's verdict (is it an article too?); everything else (feeds, robots.txt,
        # redirects, errors) gets its metadata record now.
        content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
        is_html = 200 <= response.status < 300 and content_type.startswith(("text/html", "application/xhtml"))
        deferred = kind == "listing" and is_html
        extract = kind == "article" and is_html and archive.extract
        number = next(self._numbers)
        evidence = _evidence(meta, response) if extract or deferred else {}
        fetched = Fetched(
            to_exchange(request, response, datetime.now(UTC)),
            discovered_from=meta.get("syndicrawl_from"),
            feed_url=meta.get("syndicrawl_feed"),
            metadata=None if deferred else metadata,
            extract=extract,
            evidence=evidence if extract else {},
            recheck_of=meta.get(RECHECK),
        )
        archive.channel.send("capture", archive.source, number, fetched)
        if deferred:
            meta[CAPTURE] = number
            meta[METADATA] = metadata
            meta["syndicrawl_evidence"] = evidence  # the spider sends it on if the page is an article
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("syndicrawl/pages")
        stats.inc_value("syndicrawl/bytes", len(response.body))
        # While the writer is behind, the response (so its download slot) waits here:
        # the crawl goes at the pace of writing and extraction, and memory stays bounded.
        await archive.channel.drain()
        return response


class ResponseTooLarge(Exception):
    """A response over ``DOWNLOAD_MAXSIZE``, as sent or once decompressed: the spider's error line
    for the request is this message (``SourceSpider.on_error``), and it is not retried."""


def _not_maxsize_warning(record: logging.LogRecord) -> bool:
    """Drops Scrapy's unprefixed line on a response over DOWNLOAD_MAXSIZE: ``ResponseTooLarge`` says it."""
    message = record.getMessage()
    return "download max size" not in message and "exceeded DOWNLOAD_MAXSIZE" not in message


class BoundedCompressionMiddleware(httpcompression.HttpCompressionMiddleware):
    """Scrapy's decompression, with a response over ``DOWNLOAD_MAXSIZE`` one error of its source.

    Scrapy stops reading a body at DOWNLOAD_MAXSIZE (an endless chunked body) and stops inflating
    one there (a gzip bomb: a megabyte of zeros gzipped is a kilobyte), but says so in a line
    naming no source, and the gzip bomb's ``IgnoreRequest`` reached the spider as a request merely
    not fetched: nothing was counted and the source could finish as if its feed had been read.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for logger in (httpcompression.logger, http11.logger):
            logger.addFilter(_not_maxsize_warning)  # once: a filter is added only if absent

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            if not isinstance(exc.__cause__, _DecompressionMaxSizeExceeded):
                raise
            limit = exc.__cause__.max_size
            raise ResponseTooLarge(
                f"larger than DOWNLOAD_MAXSIZE ({limit:,} bytes) once decompressed "
                f"({len(response.body):,} bytes as sent); not read"
            ) from exc

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        """Scrapy cancels a download at DOWNLOAD_MAXSIZE (``DownloadCancelledError`` when the
        Content-Length says so, ``CancelledError`` when the bytes received pass it)."""
        if isinstance(exception, DownloadCancelledError | CancelledError):
            limit = request.meta.get("download_maxsize", self._max_size)
            raise ResponseTooLarge(f"larger than DOWNLOAD_MAXSIZE ({limit:,} bytes); not read") from exception
