"""The queries the crawler and the CLI run against the metadata database.

Plain functions over a ``Session``: callers own the transaction (``with db.session() as s,
s.begin(): ...``), so one crawl step or one command is one commit. Writes that may race
with another process (a source, a feed, a feed entry seen by two crawls) are single
``INSERT ... ON CONFLICT`` statements rather than a select followed by an insert.
URL lookups go through ``archive.db.urls.url_key`` so variants of a URL find the same rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import contains_eager

from archive.db.engine import upsert
from archive.db.models import CRAWL_STATUSES, Article, Capture, Crawl, Feed, FeedEntry, Source, SourceCount, utcnow
from archive.db.urls import url_key
from archive.errors import NotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from sqlalchemy.orm import Session


logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What the archive holds for one source, for ``syndicrawl sources`` and status output.

    ``articles`` counts successful extractions only (one per capture of a page); ``pages`` the
    distinct URLs among them, which recrawls do not multiply; failed extractions are in ``failed``.
    ``bytes`` is the size of the source's WARC records (responses and revisits).
    """

    name: str
    kind: str
    captures: int
    articles: int
    pages: int
    failed: int
    bytes: int
    feeds: int
    last_crawl_started: datetime | None
    last_crawl_finished: datetime | None
    last_crawl_status: str | None


def ensure_source(s: Session, name: str, kind: str) -> Source:
    """Return the source called ``name``, creating it or updating its kind."""
    stmt = upsert(s, Source).values(name=name, kind=kind)
    s.execute(stmt.on_conflict_do_update(index_elements=[Source.name], set_={"kind": stmt.excluded.kind}))
    return s.scalars(
        select(Source).where(Source.name == name).execution_options(populate_existing=True)
    ).one()


def start_crawl(s: Session, source: Source) -> Crawl:
    """Record that a crawl of ``source`` starts now; its id tags the captures it makes."""
    crawl = Crawl(source_id=source.id, started_at=utcnow(), status="running")
    s.add(crawl)
    s.flush()
    logger.info("crawl %d of %s started", crawl.id, source.name)
    return crawl


def finish_crawl(
    s: Session, crawl_id: int, *, status: str, pages: int, articles: int, bytes: int, errors: int
) -> None:
    """Close crawl ``crawl_id`` with its final status and totals."""
    if status == "running" or status not in CRAWL_STATUSES:
        raise ValueError(f"a crawl finishes as one of finished, failed, interrupted, not {status!r}")
    crawl = s.get(Crawl, crawl_id)
    if crawl is None:
        raise NotFoundError(f"crawl {crawl_id} is not in the database")
    crawl.status = status
    crawl.finished_at = utcnow()
    crawl.pages = pages
    crawl.articles = articles
    crawl.bytes = bytes
    crawl.errors = errors
    s.flush()
    logger.info(
        "crawl %d %s: %d pages, %d articles, %d bytes, %d errors",
        crawl_id,
        status,
        pages,
        articles,
        bytes,
        errors,
    )


def ensure_feed(s: Session, source_id: int, url: str, kind: str, title: str | None = None) -> Feed:
    """Return the feed ``url`` of a source, created if new, and mark it fetched now.

    A known title or kind is not overwritten by a missing title or an ``"unknown"`` kind:
    a fetch that failed to parse must not erase what an earlier one learned.
    """
    stmt = upsert(s, Feed).values(
        source_id=source_id, url=url, kind=kind, title=title, last_fetched_at=utcnow()
    )
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=[Feed.source_id, Feed.url],
            set_={
                "last_fetched_at": stmt.excluded.last_fetched_at,
                "title": func.coalesce(stmt.excluded.title, Feed.title),
                "kind": case((stmt.excluded.kind == "unknown", Feed.kind), else_=stmt.excluded.kind),
            },
        )
    )
    return s.scalars(
        select(Feed)
        .where(Feed.source_id == source_id, Feed.url == url)
        .execution_options(populate_existing=True)
    ).one()


def upsert_feed_entry(
    s: Session,
    feed_id: int,
    *,
    url: str,
    entry_id: str | None,
    title: str | None,
    author: str | None,
    published: str | None,
    updated: str | None,
) -> FeedEntry:
    """Insert or refresh the entry for ``url`` in a feed, keeping when it was first seen.

    ``first_seen_at`` is evidence of publication time, so it never moves. Fields the
    feed no longer gives keep their earlier value for the same reason.
    """
    values: dict[str, Any] = {
        "entry_id": entry_id,
        "title": title,
        "author": author,
        "published": published,
        "updated": updated,
    }
    stmt = upsert(s, FeedEntry).values(feed_id=feed_id, url=url, url_key=url_key(url), **values)
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=[FeedEntry.feed_id, FeedEntry.url],
            set_={
                name: func.coalesce(stmt.excluded[name], getattr(FeedEntry, name)) for name in values
            },
        )
    )
    return s.scalars(
        select(FeedEntry)
        .where(FeedEntry.feed_id == feed_id, FeedEntry.url == url)
        .execution_options(populate_existing=True)
    ).one()


def find_original_captures(s: Session, payload_digests: Iterable[str]) -> dict[str, Capture]:
    """Return, for each digest found, the earliest non-revisit capture with it, across all crawls.

    The WARC writer uses it to write a revisit record instead of storing the payload again;
    one query serves a batch of captures.
    """
    originals: dict[str, Capture] = {}
    rows = s.scalars(
        select(Capture)
        .where(Capture.payload_digest.in_(set(payload_digests)), Capture.revisit_of.is_(None))
        .order_by(Capture.timestamp, Capture.id)
    )
    for row in rows:
        originals.setdefault(row.payload_digest, row)
    return originals


def captures_by_record_id(s: Session, record_ids: Iterable[str]) -> dict[str, Capture]:
    """The captures of these WARC record IDs: an import skips records it has, and finds a revisit's original."""
    return {row.record_id: row for row in s.scalars(select(Capture).where(Capture.record_id.in_(set(record_ids))))}


def source_kind(s: Session, name: str) -> str | None:
    """The kind of the source called ``name``, or None if there is none."""
    return s.scalar(select(Source.kind).where(Source.name == name))


def source_names(s: Session) -> list[str]:
    """Every source's name, sorted: the sources table alone, where ``source_summaries`` counts every capture."""
    return list(s.scalars(select(Source.name).order_by(Source.name)))


def add_capture(s: Session, **fields: Any) -> Capture:
    """Store a capture's locator; ``url_key`` is computed from ``url`` unless given."""
    return add_captures(s, [fields])[0]


def add_captures(s: Session, rows: Sequence[dict[str, Any]]) -> list[Capture]:
    """Store several captures in one flush (one multi-row INSERT)."""
    captures = [Capture(**{"url_key": url_key(fields["url"]), **fields}) for fields in rows]
    s.add_all(captures)
    s.flush()
    return captures


def add_article(s: Session, **fields: Any) -> Article:
    """Store the extraction result of one capture."""
    return add_articles(s, [fields])[0]


def add_articles(s: Session, rows: Sequence[dict[str, Any]]) -> list[Article]:
    """Store several extraction results in one flush."""
    articles = [Article(**fields) for fields in rows]
    s.add_all(articles)
    s.flush()
    return articles


def captures_for_url(s: Session, url: str) -> list[Capture]:
    """Return every capture of ``url`` or a variant of it (same ``url_key``), oldest first."""
    return list(
        s.scalars(
            select(Capture).where(Capture.url_key == url_key(url)).order_by(Capture.timestamp, Capture.id)
        )
    )


def recent_articles(s: Session, limit: int = 10) -> list[tuple[Article, Capture, str | None]]:
    """The ``limit`` articles stored last, newest first, with their capture and source's name.

    By storage order (the primary key), not capture time: an index walk of ``limit`` rows at any
    archive size, where sorting by capture time reads every capture (an import stores old ones)."""
    return [
        (article, capture, name)
        for article, capture, name in s.execute(
            select(Article, Capture, Source.name)
            .join(Capture, Capture.id == Article.capture_id)
            .outerjoin(Source, Source.id == Capture.source_id)
            .where(Article.status == "ok")
            .order_by(Article.id.desc())
            .limit(limit)
        )
    ]


def latest_article(s: Session, url: str) -> Article | None:
    """Return the article of the latest capture of ``url``, or one declaring it canonical.

    The article's ``capture`` is loaded with it, so it stays readable after the session.

    Two indexed lookups (by URL key, by canonical URL) rather than one OR across tables,
    which neither SQLite nor PostgreSQL can answer from an index.
    """
    newest = (Capture.timestamp.desc(), Capture.id.desc())
    base = (
        select(Article, Capture.timestamp, Capture.id)
        .join(Article.capture)
        .options(contains_eager(Article.capture))
    )
    candidates = [
        s.execute(base.where(Capture.url_key == url_key(url)).order_by(*newest).limit(1)).first(),
        s.execute(base.where(Article.canonical_url == url).order_by(*newest).limit(1)).first(),
    ]
    found = [row for row in candidates if row is not None]
    if not found:
        return None
    return max(found, key=lambda row: (row[1], row[2]))[0]


def article_fields(article: Article) -> dict[str, Any]:
    """An article with where it is stored, as ``syndicrawl article --json`` and ``/api/article`` show it.

    Its ``capture`` must be loaded (``latest_article`` loads it).
    """
    return {
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "author": article.author,
        "published": article.published,
        "published_source": article.published_source,
        "language": article.language,
        "sitename": article.sitename,
        "captured": article.capture.timestamp.isoformat(),
        "warc_file": article.capture.warc_file,
        "warc_offset": article.capture.warc_offset,
        "status": article.status,
        "error": article.error,
        "text_hash": article.text_hash,
        "text": article.text,
    }


def feed_evidence(s: Session, url: str) -> list[FeedEntry]:
    """Return the feed entries pointing at ``url`` or a variant of it, first seen first."""
    return list(
        s.scalars(
            select(FeedEntry)
            .where(FeedEntry.url_key == url_key(url))
            .order_by(FeedEntry.first_seen_at, FeedEntry.id)
        )
    )


def source_summaries(s: Session) -> list[SourceSummary]:
    """Return one summary per source, by name, in a single query.

    The counts of captures and articles are those the database keeps per source
    (``archive.db.sourcecounts``): counting them here read every capture and article.
    """
    feeds = select(Feed.source_id, func.count().label("n")).group_by(Feed.source_id).subquery()
    crawls = select(
        Crawl.source_id,
        Crawl.started_at,
        Crawl.finished_at,
        Crawl.status,
        func.row_number()
        .over(partition_by=Crawl.source_id, order_by=(Crawl.started_at.desc(), Crawl.id.desc()))
        .label("rank"),
    ).subquery()
    # Columns in SourceSummary's field order.
    rows = s.execute(
        select(
            Source.name,
            Source.kind,
            func.coalesce(SourceCount.captures, 0),
            func.coalesce(SourceCount.articles, 0),
            func.coalesce(SourceCount.pages, 0),
            func.coalesce(SourceCount.failed, 0),
            func.coalesce(SourceCount.bytes, 0),
            func.coalesce(feeds.c.n, 0),
            crawls.c.started_at,
            crawls.c.finished_at,
            crawls.c.status,
        )
        .outerjoin(SourceCount, SourceCount.source_id == Source.id)
        .outerjoin(feeds, feeds.c.source_id == Source.id)
        .outerjoin(crawls, and_(crawls.c.source_id == Source.id, crawls.c.rank == 1))
        .order_by(Source.name)
    )
    return [SourceSummary(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ArchivedUrl:
    """One URL of the archive: its source, how often it was captured, when first and last."""

    url: str
    source: str | None
    captures: int
    first_capture: datetime
    last_capture: datetime


def archived_urls(s: Session, *, source: str | None = None, prefix: str | None = None) -> Iterator[ArchivedUrl]:
    """Yield each archived URL (of ``source``, starting with ``prefix``) once per source, in URL order.

    Streamed from the database: an archive holds millions of URLs. A URL two sources captured
    is listed for each, as it is in each source's WARC files.
    """
    query = (
        select(Capture.url, Source.name, func.count(), func.min(Capture.timestamp), func.max(Capture.timestamp))
        .outerjoin(Source, Source.id == Capture.source_id)
        .group_by(Capture.url, Source.name)
        .order_by(Capture.url, Source.name)
    )
    if source is not None:
        query = query.where(Source.name == source)
    if prefix:
        # Not LIKE: SQLite's ignores the case of ASCII letters, and % and _ would need escaping.
        query = query.where(func.substr(Capture.url, 1, len(prefix)) == prefix)
    for row in s.execute(query.execution_options(yield_per=1000)):
        yield ArchivedUrl(*row)
