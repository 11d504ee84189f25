"""WARC capture: every response, as received, goes to the archive writer process."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archive.ingest.messages import Fetched
from archive.warc.exchange import HttpExchange

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response
    from typing_extensions import Self

#: request.meta key holding the capture's number in this crawl.
CAPTURE = "syndicrawl_capture"
#: request.meta key holding the metadata record of a capture waiting for the spider's verdict.
METADATA = "syndicrawl_metadata"
#: request.meta key marking a source's feeds, sitemaps and start pages (and their redirects).
ENTRY_POINT = "syndicrawl_entry_point"


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
        if meta.get(ENTRY_POINT):
            stats.inc_value("syndicrawl/entry_points_answered")
        # While the writer is behind, the response (so its download slot) waits here:
        # the crawl goes at the pace of writing and extraction, and memory stays bounded.
        await archive.channel.drain()
        return response
