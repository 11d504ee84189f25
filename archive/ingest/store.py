"""Captures go to a WARC file and the catalog together, so every row points at a record on disk.

One ``CaptureStore`` per crawled source (its own WARC files); all its methods run on the one
archive-writer thread, which keeps SQLite to a single writer and the WARC writer unshared.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from archive.db import advisory, catalog, feedpolls, rechecks
from archive.db.models import Capture
from archive.errors import WarcError
from archive.lookup import cdx
from archive.warc.cdxj import write_index
from archive.warc.storage import WarcStorage
from archive.warc.http import header
from archive.warc.writer import RevisitTarget, WarcWriter, payload_digest, warc_date

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from archive.db.engine import Database
    from archive.ingest.extract import ExtractedArticle
    from archive.ingest.extraction import Extraction
    from archive.ingest.messages import Fetched
    from archive.syndication.neardup import NearDupIndex

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

    @classmethod
    def of(cls, capture: Capture) -> StoredCapture:
        return cls(
            id=capture.id,
            url=capture.url,
            record_id=capture.record_id,
            warc_file=capture.warc_file,
            revisit=capture.revisit_of is not None,
            length=capture.warc_length,
        )


class Extracted(NamedTuple):
    """A captured page's extraction, or the error that stopped it, and what the crawler knew of it."""

    capture: StoredCapture
    extraction: Extraction | None
    error: str | None
    metadata: Mapping[str, Any]
    evidence: Mapping[str, Any]
    #: ``error`` says why the page is no article (``NotAnArticle``): not a failure.
    not_article: bool = False


@dataclass(slots=True)
class _Pending:
    """A capture written earlier in the same batch: a revisit can point at it once it has an id."""

    url: str
    timestamp: datetime
    record_id: str
    row: dict[str, Any]

    @property
    def id(self) -> int | None:
        return self.row.get("id")


def _not_modified(s: Session, fetched: Fetched) -> Capture | None:
    """The capture holding the payload a recheck asked about, when the server answered 304 (unchanged)."""
    if fetched.exchange.status != 304 or fetched.recheck_of is None:
        return None
    asked = s.get(Capture, fetched.recheck_of)
    if asked is not None and asked.revisit_of is not None:
        return s.get(Capture, asked.revisit_of)
    return asked


def _article_fetches(batch: Sequence[Fetched], stored: Sequence[StoredCapture]) -> Iterator[rechecks.Fetch]:
    """The fetches of article pages among ``batch``, for their rechecks: a 2xx page, with its
    validators (extracted or not: a crawl may run without extraction), and any answer to a
    recheck (a 304, a page gone)."""
    for fetched, capture in zip(batch, stored, strict=True):
        exchange = fetched.exchange
        if (fetched.extract or (fetched.metadata or {}).get("kind") == "article") and 200 <= exchange.status < 300:
            yield rechecks.Fetch(capture.url, exchange.fetched_at, capture.id, header(exchange.response_headers, "ETag"),
                                 header(exchange.response_headers, "Last-Modified"))
        elif fetched.recheck_of is not None:
            yield rechecks.Fetch(capture.url, exchange.fetched_at, None)


def _published(
    article: ExtractedArticle | None, evidence: Mapping[str, Any], url: str
) -> tuple[str | None, str | None]:
    """The publication date of the page at ``url`` and where it came from, best evidence first.

    1. The page's markup ("page"), to its feed entry's minute when the page gives only that
    day (``_to_the_minute``); 2. its feed entry's publication date ("feed");
    3. its own URL's path, ``/YYYY/MM/DD/`` ("url"); 4. its feed or sitemap entry's
    modification date (a sitemap's ``lastmod``), a modification date, so after the URL;
    when the path names only a month (Blogger's ``/YYYY/MM/``), only one within that month;
    5. the month of the path; 6. the HTTP ``Last-Modified`` header ("last-modified"), last:
    an origin edited after its copies were made would otherwise look newer than them.
    """
    if article is not None and article.published:
        return _to_the_minute(article.published, evidence.get("published")), "page"
    via = str(evidence.get("via", "feed"))
    if evidence.get("published"):
        return str(evidence["published"]), via
    from_url = _url_date(url)
    if from_url is not None and len(from_url) == 10:
        return from_url, "url"
    updated = _iso(evidence.get("updated"))
    if updated is not None and (from_url is None or updated.startswith(from_url)):
        return updated, via
    if from_url is not None:
        return from_url, "url"
    modified = _http_date(evidence.get("last_modified"))
    return (modified, "last-modified") if modified is not None else (None, None)


#: A date in whole path segments: /YYYY/MM/ or /YYYY/MM/DD/ (the month may lack its zero).
_PATH_DATE = re.compile(r"/((?:19|20)\d\d)/(\d\d?)/(?:(\d\d?)/)?")


def _url_date(url: str) -> str | None:
    """The date a URL's path gives in whole segments, ``YYYY-MM-DD`` or ``YYYY-MM`` for a month.

    Only whole segments: ``/2019/03/15-jahre-...`` is March 2019, not the 15th. Never a
    date after today.
    """
    found = _PATH_DATE.search(urlsplit(url).path)
    if found is None:
        return None
    year, month, day = found.groups()
    try:
        when = date(int(year), int(month), int(day or 1))
    except ValueError:
        return None
    if when > date.today():
        return None
    return when.isoformat() if day else when.isoformat()[:7]


def _to_the_minute(day: str, feed_time: object) -> str:
    """The page's date, with its feed entry's time when the page gives only the day.

    WordPress and Blogger themes print "March 30, 2021" while their feeds give the minute;
    copies made on the day of their origin are ordered only by those minutes. The feed's
    time (UTC) is taken only when it is on the page's day in UTC too: a zone's offset may
    put it on the day before or after, and then the page's own day stands.
    """
    moment = _iso(feed_time)
    if len(day) != len("YYYY-MM-DD") or moment is None or len(moment) <= len(day):
        return day
    instant = datetime.fromisoformat(moment)
    instant = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
    return instant.isoformat() if instant.date().isoformat() == day else day


def _iso(value: object) -> str | None:
    """``value`` if it is an ISO 8601 date or datetime (a sitemap's lastmod), else None."""
    if not isinstance(value, str):
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return None
    return value


def _http_date(value: object) -> str | None:
    """An HTTP date (``Last-Modified``) as an ISO datetime in UTC; None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC).isoformat()
    except (TypeError, ValueError, OverflowError):  # "31 Dec 9999 23:59:59 -1400" is after year 9999 in UTC
        return None


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
        index_dir: Path | None = None,
        writer_id: str = "",
        recheck: Sequence[int] = (),
        remote: str = "",
    ) -> None:
        """``index_dir``: where each finished WARC file's CDXJ index is written (none if None);
        ``writer_id``: the worker writing, which ends the WARC files' names (``WarcWriter``);
        ``recheck``: seconds after an article page's first capture at which it is due again;
        ``remote``: the object storage each finished (and indexed) file is uploaded to."""
        self.db = db
        self.recheck = tuple(recheck)
        self._warcs = WarcStorage(warc_dir, remote)
        self._index_dir = index_dir
        self._closed: list[Path] = []  # finished WARC files whose index is still to be written
        self.source = source
        self.warc = WarcWriter(
            warc_dir,
            source,
            max_size=max_size,
            software=software,
            info={"isPartOf": source},
            on_close=self._closed.append if index_dir is not None else None,
            writer_id=writer_id,
        )
        with db.writing() as s:
            row = catalog.ensure_source(s, source, kind)
            self.source_id = row.id
            self.crawl_id = catalog.start_crawl(s, row).id

    @cached_property
    def index(self) -> NearDupIndex:
        """The near-duplicate index, opened with the first article: a crawl that stores none
        (and the wait before a crawl can fetch) does without numpy and the matching code."""
        from archive.syndication.neardup import NearDupIndex

        return NearDupIndex(self.db)

    def store_exchanges(self, batch: Sequence[Fetched]) -> list[StoredCapture]:
        """Write exchanges and their rows in one transaction; a payload already archived (or
        earlier in the batch) becomes a revisit record (exact dedup), and so does a recheck's 304
        (the capture it asked about). Article pages' rechecks move on (``archive.db.rechecks``)."""
        with self.db.writing() as s:
            digests = [payload_digest(fetched.exchange.body) for fetched in batch]
            originals = catalog.find_original_captures(s, digests)
            stored: list[StoredCapture] = []
            rows: list[dict[str, Any]] = []
            for fetched, digest in zip(batch, digests, strict=True):
                exchange = fetched.exchange
                original = originals.get(digest) if exchange.body and 200 <= exchange.status < 300 else None
                unchanged = _not_modified(s, fetched)
                if unchanged is not None:
                    original, digest = unchanged, unchanged.payload_digest
                if original is not None and original.id is None:
                    stored += self._add(s, rows)  # the original is earlier in this batch: it needs its id
                    rows = []
                target = None
                if original is not None:
                    target = RevisitTarget(uri=original.url, date=warc_date(original.timestamp),
                                           record_id=original.record_id, not_modified=unchanged is not None)
                written = self.warc.write_exchange(exchange, digest=digest, revisit_of=target)
                if fetched.metadata is not None and not fetched.extract:
                    self.warc.write_metadata(exchange.url, written.record_id, fetched.metadata)
                row = {
                    "source_id": self.source_id,
                    "crawl_id": self.crawl_id,
                    "url": exchange.url,
                    "timestamp": exchange.fetched_at,
                    "status": exchange.status,
                    "mime": (header(exchange.response_headers, "Content-Type") or "").split(";")[0].strip(),
                    "warc_file": written.locator.filename,
                    "warc_offset": written.locator.offset,
                    "warc_length": written.locator.length,
                    "record_id": written.record_id,
                    "payload_digest": digest,
                    "revisit_of": original,
                    "discovered_from": fetched.discovered_from,
                    "feed_url": fetched.feed_url,
                    "redirect_to": header(exchange.response_headers, "Location") if 300 <= exchange.status < 400 else None,
                }
                rows.append(row)
                if original is None and 200 <= exchange.status < 300 and exchange.body:
                    originals[digest] = _Pending(exchange.url, exchange.fetched_at, written.record_id, row)
            stored += self._add(s, rows)
            rechecks.record(s, self.source_id, self.recheck, list(_article_fetches(batch, stored)))
        self._index_closed()  # a file finished by rotation, now that its rows are committed
        return stored

    def _add(self, s: Session, rows: list[dict[str, Any]]) -> list[StoredCapture]:
        """Insert rows built by ``store_exchanges``, resolving revisits of earlier rows to ids."""
        for row in rows:
            original = row["revisit_of"]
            row["revisit_of"] = original.id if original is not None else None
        added = catalog.add_captures(s, rows)
        for row, capture in zip(rows, added, strict=True):
            row["id"] = capture.id
        return [StoredCapture.of(capture) for capture in added]

    def store_articles(self, batch: Sequence[Extracted]) -> None:
        """Record extractions of captured pages and match them for syndication, in one
        transaction; then write each capture's metadata record with its extraction summary.

        The rows first: a metadata record that cannot be written (a disk full) is logged and
        lost, not the articles of pages already stored, which no later poll would fetch again.
        """
        rows = []
        for capture, extraction, error, _, evidence, not_article in batch:
            article = extraction.article if extraction is not None else None
            published, published_source = _published(article, evidence, capture.url)
            rows.append(
                {
                    "capture_id": capture.id,
                    "url": capture.url,
                    "canonical_url": article.canonical_url if article else None,
                    "title": (article.title if article else None) or evidence.get("title"),
                    "author": (article.author if article else None) or evidence.get("author"),
                    "published": published,
                    "published_source": published_source,
                    "text": article.text if article else "",
                    "text_hash": article.text_hash if article else "",
                    "language": article.language if article else None,
                    "sitename": article.sitename if article else None,
                    "status": "ok" if article else "not_article" if not_article else "failed",
                    "error": error,
                }
            )
        from archive.ingest import changes  # with matching, on the first article
        from archive.syndication import matching, tallies

        with self.db.writing() as s:
            # Copies stored at once by two writers (two workers) must see each other: the one that
            # shares an LSH band with another's waits for it to commit before matching.
            advisory.lock_keys(s, (key for item in batch if item.extraction
                                   for key in self.index.keys(item.extraction.fingerprint.signature)))
            articles = catalog.add_articles(s, rows)
            # The analytics' tallies of the pages placed here move with them (issue #20).
            with tallies.kept_current(s, (article.id for article in articles)):
                matching.match_many(
                    s,
                    self.index,
                    [(row, item.extraction.fingerprint) for row, item in zip(articles, batch, strict=True) if item.extraction],
                )
                changes.record(
                    s, self._warcs, articles, [item.extraction.article.modified if item.extraction else None for item in batch]
                )
        for written, (capture, extraction, error, metadata, *_) in enumerate(batch):
            article = extraction.article if extraction is not None else None
            summary: dict[str, Any] = article.summary() if article is not None else {"error": error}
            try:
                self.store_metadata(capture, {**metadata, "extraction": summary})
            except WarcError as exc:
                logger.error("%s: metadata records of %d extracted pages not written (their articles are stored): %s",
                             self.source, len(batch) - written, exc)  # fmt: skip
                break

    def store_metadata(self, capture: StoredCapture, metadata: Mapping[str, Any]) -> None:
        """Write the capture's metadata record (source, feed, discovered-from, extraction summary)."""
        self.warc.write_metadata(capture.url, capture.record_id, metadata)

    def store_feed(
        self, url: str, kind: str, title: str | None, entries: list[Mapping[str, Any]], poll: Mapping[str, Any] | None = None
    ) -> None:
        """Keep a feed and its entries: their titles, authors and dates are evidence for later.

        ``poll``: the fetch's outcome, recorded first (entries not stored yet count as new).
        """
        with self.db.writing() as s:
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
        with self.db.writing() as s:
            catalog.finish_crawl(
                s,
                self.crawl_id,
                status=status,
                pages=counts.get("pages", 0),
                articles=counts.get("articles", 0),
                bytes=counts.get("bytes", 0),
                errors=counts.get("errors", 0),
            )
        self._index_closed()
        return files

    def _index_closed(self) -> None:
        """Write the CDXJ index of each WARC file finished since the last call, from its rows.

        The rows hold every indexed field, so the file is not read again (cdxj-indexer would
        decompress all of it at the end of a crawl; ``index rebuild`` does, and gives the same
        lines). A failure is logged, not raised: the WARC file is safe, a rebuild can index it.
        """
        if not self._closed or self._index_dir is None:
            return
        closed = list(self._closed)
        self._closed.clear()  # the list the WARC writer appends to
        with self.db.session() as s:
            for path in closed:
                try:
                    write_index(path.name, (row.line for row in cdx.file_rows(s.connection(), path.name)), self._index_dir)
                except WarcError as exc:
                    logger.error("%s", exc)
        for path in closed:
            try:
                self._warcs.upload(path)
            except WarcError as exc:  # kept here, readable by this machine; uploaded by hand or a re-run
                logger.error("%s", exc)
