"""Captures go to a WARC file and the catalog together, so every row points at a record on disk.

One ``CaptureStore`` per crawled source (its own WARC files); all its methods run on the one
archive-writer thread, which keeps SQLite to a single writer and the WARC writer unshared.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive import catalog, feedpolls, syndication
from archive.neardup import NearDupIndex
from archive.urls import url_key
from archive.warc import RevisitTarget, WarcWriter, payload_digest, warc_date

if TYPE_CHECKING:
    from archive.db import Database
    from archive.exchange import HttpExchange
    from archive.extract import ExtractedArticle
    from archive.syndication import Extraction

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredCapture:
    """What the crawler needs to know about a capture once it is on disk."""

    id: int
    url: str
    record_id: str
    warc_file: str
    revisit: bool
    length: int


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def _published(article: ExtractedArticle | None, evidence: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The publication date and where it came from: the page itself, else the feed or sitemap entry."""
    if article is not None and article.published:
        return article.published, "page"
    if evidence.get("published"):
        return str(evidence["published"]), str(evidence.get("via", "feed"))
    return None, None


class CaptureStore:
    """Writes one source's captures, articles and feed entries."""

    def __init__(
        self,
        db: Database,
        warc_dir: Path,
        source: str,
        kind: str,
        *,
        max_size: int,
        software: str,
    ) -> None:
        self.db = db
        self.source = source
        self.index = NearDupIndex(db)
        self.warc = WarcWriter(warc_dir, source, max_size=max_size, software=software, info={"isPartOf": source})
        with db.session() as s, s.begin():
            row = catalog.ensure_source(s, source, kind)
            self.source_id = row.id
            self.crawl_id = catalog.start_crawl(s, row).id

    def store_exchange(
        self,
        exchange: HttpExchange,
        *,
        discovered_from: str | None = None,
        feed_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> StoredCapture:
        """Write one HTTP exchange; a payload already archived becomes a revisit record (exact dedup).

        ``metadata`` given: the capture's metadata record is written now; otherwise the caller
        writes it later with ``store_article`` (it needs the extraction result).
        """
        digest = payload_digest(exchange.body)
        with self.db.session() as s, s.begin():
            original = None
            if exchange.body and 200 <= exchange.status < 300:
                original = catalog.find_original_capture(s, digest)
            target = None
            if original is not None:
                target = RevisitTarget(
                    uri=original.url,
                    date=warc_date(original.timestamp),
                    record_id=original.record_id,
                )
            written = self.warc.write_exchange(exchange, revisit_of=target)
            if metadata is not None:
                self.warc.write_metadata(exchange.url, written.record_id, metadata)
            row = catalog.add_capture(
                s,
                source_id=self.source_id,
                crawl_id=self.crawl_id,
                url=exchange.url,
                url_key=url_key(exchange.url),
                timestamp=exchange.fetched_at,
                status=exchange.status,
                mime=(_header(exchange.response_headers, "Content-Type") or "").split(";")[0].strip(),
                warc_file=written.locator.filename,
                warc_offset=written.locator.offset,
                warc_length=written.locator.length,
                record_id=written.record_id,
                payload_digest=digest,
                revisit_of=original.id if original is not None else None,
                discovered_from=discovered_from,
                feed_url=feed_url,
                redirect_to=_header(exchange.response_headers, "Location") if 300 <= exchange.status < 400 else None,
            )
            s.flush()
            return StoredCapture(
                id=row.id,
                url=exchange.url,
                record_id=written.record_id,
                warc_file=written.locator.filename,
                revisit=original is not None,
                length=written.locator.length,
            )

    def store_article(
        self,
        capture: StoredCapture,
        extraction: Extraction | None,
        error: str | None,
        metadata: Mapping[str, Any],
        evidence: Mapping[str, Any],
    ) -> None:
        """Record the extraction of a captured page and match it for syndication; write the
        capture's metadata record with the extraction summary."""
        article = extraction.article if extraction is not None else None
        summary: dict[str, Any] = article.summary() if article is not None else {"error": error}
        self.store_metadata(capture, {**metadata, "extraction": summary})
        published, published_source = _published(article, evidence)
        with self.db.session() as s, s.begin():
            row = catalog.add_article(
                s,
                capture_id=capture.id,
                url=capture.url,
                canonical_url=article.canonical_url if article else None,
                title=(article.title if article else None) or evidence.get("title"),
                author=(article.author if article else None) or evidence.get("author"),
                published=published,
                published_source=published_source,
                text=article.text if article else "",
                text_hash=article.text_hash if article else "",
                language=article.language if article else None,
                sitename=article.sitename if article else None,
                status="ok" if article else "failed",
                error=error,
            )
            if extraction is not None:
                s.flush()
                syndication.match(s, self.index, row, extraction.fingerprint)

    def store_metadata(self, capture: StoredCapture, metadata: Mapping[str, Any]) -> None:
        """Write the capture's metadata record (source, feed, discovered-from, extraction summary)."""
        self.warc.write_metadata(capture.url, capture.record_id, metadata)

    def store_feed(
        self, url: str, kind: str, title: str | None, entries: list[Mapping[str, Any]], poll: Mapping[str, Any] | None = None
    ) -> None:
        """Keep a feed and its entries: their titles, authors and dates are evidence for later.

        ``poll``: the fetch's outcome, recorded first (entries not stored yet count as new).
        """
        with self.db.session() as s, s.begin():
            feed = catalog.ensure_feed(s, self.source_id, url, kind, title)
            if poll is not None:
                feedpolls.record_poll(s, self.source_id, poll, entries, feed.id)
            for entry in entries:
                catalog.upsert_feed_entry(
                    s,
                    feed.id,
                    url=entry["url"],
                    entry_id=entry.get("entry_id"),
                    title=entry.get("title"),
                    author=entry.get("author"),
                    published=entry.get("published"),
                    updated=entry.get("updated"),
                )

    def finish(self, status: str, counts: Mapping[str, int]) -> list[Path]:
        """Close the WARC file (renaming it from .open) and record how the crawl ended."""
        files = self.warc.close()
        with self.db.session() as s, s.begin():
            catalog.finish_crawl(
                s,
                self.crawl_id,
                status=status,
                pages=counts.get("pages", 0),
                articles=counts.get("articles", 0),
                bytes=counts.get("bytes", 0),
                errors=counts.get("errors", 0),
            )
        return files
