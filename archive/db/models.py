"""The metadata database's tables: sources, crawls, feeds, captures, articles, feed polling, leases,
the near-duplicate index.

The database holds locators and extracted text only; raw payloads stay in the WARC files
(``warc_file`` + ``warc_offset`` + ``warc_length`` is one seek). Every constraint and index
is named through ``NAMING_CONVENTION`` because Alembic's SQLite batch mode can only drop or
recreate constraints it can name. Change a table here and in a new migration under
``archive/db/migrations/versions/`` together: ``tests/test_archive_db.py`` compares them.

Foreign keys are indexed where queries join on them or a delete follows them (``ON DELETE
SET NULL`` on PostgreSQL reads the referencing table for each row deleted).

URL columns are plain btree-indexed text: Scrapy's ``URLLENGTH_LIMIT`` (2083) keeps keys well
under PostgreSQL's limit of about 2700 bytes per index row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from archive.db import fulltext

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Dialect
    from sqlalchemy.types import TypeEngine

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SOURCE_KINDS = ("origin", "repost", "unknown")
CRAWL_STATUSES = ("running", "finished", "failed", "interrupted")
FEED_KINDS = ("rss", "atom", "json", "sitemap", "unknown")
PUBLISHED_SOURCES = ("page", "feed", "sitemap", "url", "last-modified")
#: ``not_article``: extracted, but the page is no article (a listing, a list of links: ``archive.ingest.verdict``),
#: the reason in ``error``; ``failed``: no text could be extracted.
ARTICLE_STATUSES = ("ok", "failed", "not_article")

# 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")
# SURT keys compared in byte order on PostgreSQL too, as CDX key ranges need (SQLite's default).
SurtKey = Text().with_variant(Text(collation="C"), "postgresql")


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the only kind stored)."""
    return datetime.now(UTC)


#: How SQLite holds a time: text in UTC that says so (``2016-11-01 15:22:00.000000+00:00``), for
#: whoever reads the file with another tool; one width, so text order is time order.
SQLITE_TIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d+00:00"
)


class UTCDateTime(TypeDecorator[datetime]):
    """A ``timestamp with time zone`` that always reads back as aware UTC.

    SQLite has no time zone type: it stores the UTC time as text ending in ``+00:00``
    (``SQLITE_TIME_FORMAT``); PostgreSQL returns values in the session's time zone. Both are
    normalised here so callers compare datetimes without caring about the backend. Naive
    values are refused on the way in: guessing their zone would silently shift capture times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sqlite.DATETIME(storage_format=SQLITE_TIME_FORMAT))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> CheckConstraint:
    """A CHECK that ``column`` holds one of ``values``: portable, unlike native enums.

    Named after the column; the naming convention turns that into ``ck_<table>_<column>``.
    """
    allowed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({allowed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=column)


class Base(DeclarativeBase):
    """Declarative base whose MetaData names every constraint."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The full-text index of articles is SQL the ORM cannot express: built after the tables.
fulltext.attach(Base.metadata)


@event.listens_for(Base.metadata, "after_create")
def _create_pages_view(_target: MetaData, conn: Connection, **_kw: object) -> None:
    """The ``pages`` view (one row per page) over the tables just created."""
    from archive.db import pages  # it selects from the models below

    pages.create(conn)


@event.listens_for(Base.metadata, "after_create")
def _create_source_counts(_target: MetaData, conn: Connection, **_kw: object) -> None:
    """The triggers keeping ``source_counts`` (``archive.db.sourcecounts``) over the tables just created."""
    from archive.db import sourcecounts  # it names the models below

    sourcecounts.create(conn)


class Source(Base):
    """A site from the sources file: an origin that publishes or a repost site that copies."""

    __tablename__ = "sources"
    __table_args__ = (_one_of("kind", SOURCE_KINDS),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="unknown")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Crawl(Base):
    """One run of the crawler over one source, with its totals."""

    __tablename__ = "crawls"
    __table_args__ = (_one_of("status", CRAWL_STATUSES),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source_id: Mapped[int] = mapped_column(Id, ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    pages: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    articles: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    errors: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Feed(Base):
    """A feed or sitemap of a source; ``last_fetched_at`` drives polling."""

    __tablename__ = "feeds"
    __table_args__ = (
        UniqueConstraint("source_id", "url"),
        _one_of("kind", FEED_KINDS),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source_id: Mapped[int] = mapped_column(Id, ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="unknown")
    title: Mapped[str | None] = mapped_column(Text)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FeedEntry(Base):
    """An item seen in a feed: evidence of when and by whom a URL was published.

    ``url_key`` (see ``archive.db.urls``) lets an entry match captures of a variant of its URL.
    ``published`` and ``updated`` keep the feed's own ISO 8601 strings, unparsed precision
    included, because they are evidence rather than computed values.
    """

    __tablename__ = "feed_entries"
    __table_args__ = (UniqueConstraint("feed_id", "url"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feed_id: Mapped[int] = mapped_column(Id, ForeignKey("feeds.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(Text, index=True)
    entry_id: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(64))
    updated: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Capture(Base):
    """One WARC response or revisit record and where to find it.

    A revisit (identical payload seen again) points at its original through
    ``revisit_of``; ``redirect_to`` keeps the ``Location`` of a 3xx so chains of hops can
    be followed without reading the WARC.
    """

    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_url_key_timestamp", "url_key", "timestamp"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    crawl_id: Mapped[int | None] = mapped_column(Id, ForeignKey("crawls.id", ondelete="SET NULL"), index=True)
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(SurtKey)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(255))
    warc_file: Mapped[str] = mapped_column(String(255))
    warc_offset: Mapped[int] = mapped_column(BigInteger)
    warc_length: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str] = mapped_column(String(100), unique=True)
    payload_digest: Mapped[str] = mapped_column(String(100), index=True)
    revisit_of: Mapped[int | None] = mapped_column(
        Id, ForeignKey("captures.id", ondelete="SET NULL"), index=True
    )
    discovered_from: Mapped[str | None] = mapped_column(Text)
    feed_url: Mapped[str | None] = mapped_column(Text)
    redirect_to: Mapped[str | None] = mapped_column(Text)


class Article(Base):
    """What trafilatura extracted from one capture, or why it failed.

    ``published_source`` records which evidence gave ``published`` (the page itself, a
    feed entry, a sitemap's lastmod, the page's URL path, its HTTP Last-Modified header;
    see ``archive.ingest.store._published``) so syndication chains can weigh dates by origin.
    """

    __tablename__ = "articles"
    __table_args__ = (
        _one_of("status", ARTICLE_STATUSES),
        _one_of("published_source", PUBLISHED_SOURCES, nullable=True),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    capture_id: Mapped[int] = mapped_column(Id, ForeignKey("captures.id", ondelete="CASCADE"), unique=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text, index=True)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(64))
    published_source: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    text_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    sitename: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
    extracted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Where the article's page is stored; ``catalog.latest_article`` loads it with the article.
    capture: Mapped[Capture] = relationship()


RELATIONS = ("origin", "copy", "excerpt", "unique")
LINK_KINDS = ("copy", "excerpt")


class ArticleLink(Base):
    """A confirmed match between two articles, as measured when the newer one was stored.

    ``kind`` copy: the same article (each keeps >= 60% of the other's text); excerpt:
    ``article_id`` is a partial copy cut from ``other_id``. Containments are of the
    matching text's word shingles: ``contained`` = share of article_id's shingles found in
    other_id, ``covered`` = share of other_id's found in article_id.
    """

    __tablename__ = "article_links"
    __table_args__ = (
        UniqueConstraint("article_id", "other_id"),
        _one_of("kind", LINK_KINDS),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    article_id: Mapped[int] = mapped_column(Id, ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    other_id: Mapped[int] = mapped_column(Id, ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    contained: Mapped[float] = mapped_column(Float)
    covered: Mapped[float] = mapped_column(Float)


class ArticleCitation(Base):
    """A page an article names as where it came from: a URL in its "originally appeared at",
    "Read more at" or "Source:" line, or a canonical link to another host.

    Kept by URL key, so the cited page is compared with the article whether it is archived
    before or after it: the later of the two finds the other here.
    """

    __tablename__ = "article_citations"

    url_key: Mapped[str] = mapped_column(SurtKey, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        Id, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, autoincrement=False, index=True
    )


class SiteLine(Base):
    """How many of a source's articles contain one line of text (by hash): a line that
    recurs across many of a site's articles (an author box kept as plain paragraphs, a
    standing note) is that site's boilerplate, not part of any one article."""

    __tablename__ = "site_lines"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the row: one B-tree, not two

    source_id: Mapped[int] = mapped_column(Id, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    line_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    articles: Mapped[int] = mapped_column(Integer)


class SiteName(Base):
    """A name a source's site goes by (its source name, the site name its pages give), as
    matching keys it (``site:free press digest``): a page crediting "Free Press Digest" with
    no URL is compared with that site's articles."""

    __tablename__ = "site_names"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    source_id: Mapped[int] = mapped_column(Id, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)


class Syndication(Base):
    """The current answer for one article: its cluster, relation, origin and parent, with evidence.

    Recomputed for a whole cluster whenever a member is added, so it always reflects
    everything archived so far. ``cluster_id`` is the smallest article id in the cluster
    (stable as clusters grow); an excerpt is a cluster of its own whose ``parent_id`` is
    the page it was cut from. ``evidence`` is JSON: why this parent and this origin.
    """

    __tablename__ = "syndication"
    __table_args__ = (_one_of("relation", RELATIONS),)

    article_id: Mapped[int] = mapped_column(Id, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(Id, index=True)
    relation: Mapped[str] = mapped_column(String(16))
    origin_id: Mapped[int | None] = mapped_column(Id, ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    parent_id: Mapped[int | None] = mapped_column(Id, ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    similarity: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EditSummary(Base):
    """What a placed copy changed in the page it was diffed against (its parent, else its origin).

    Stored when the page is placed (``archive.ingest.changes``), so exports read it without
    diffing again. ``kept``: share of that page's text the copy kept; ``counts``: JSON, counted
    edits per kind (``archive.syndication.edits``).
    """

    __tablename__ = "edit_summaries"

    article_id: Mapped[int] = mapped_column(Id, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    against_id: Mapped[int | None] = mapped_column(Id, ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    kept: Mapped[float] = mapped_column(Float)
    counts: Mapped[str] = mapped_column(Text, default="{}")


class Revision(Base):
    """A page captured again whose text changed beyond typography and boilerplate.

    ``counts``: JSON, counted edits per kind from ``previous_id``'s text to ``article_id``'s;
    ``declared``: how the page says it changed ("note: Correction: ...", "dateModified
    2016-11-02T10:00:00Z"), None for a stealth edit.
    """

    __tablename__ = "revisions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    url_key: Mapped[str] = mapped_column(SurtKey, index=True)
    article_id: Mapped[int] = mapped_column(Id, ForeignKey("articles.id", ondelete="CASCADE"), unique=True)
    previous_id: Mapped[int] = mapped_column(Id, ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    counts: Mapped[str] = mapped_column(Text, default="{}")
    declared: Mapped[str | None] = mapped_column(Text)


class Recheck(Base):
    """When an article page is fetched again to see whether it changed, and what that fetch sends.

    Written by the archive writer (``archive.db.rechecks``) with each capture of the page:
    ``capture_id`` is the latest capture with a payload, whose ``etag`` / ``last_modified`` a
    recheck sends (If-None-Match / If-Modified-Since); ``next_at`` is ``first_at`` plus the
    first interval of its source's ``recheck`` policy not yet past (NULL: none left).
    """

    __tablename__ = "rechecks"
    __table_args__ = (Index("ix_rechecks_source_id_next_at", "source_id", "next_at"),)

    url_key: Mapped[str] = mapped_column(SurtKey, primary_key=True)
    source_id: Mapped[int] = mapped_column(Id, ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    capture_id: Mapped[int | None] = mapped_column(Id, ForeignKey("captures.id", ondelete="SET NULL"), index=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(64))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


POLL_ERROR_KINDS = ("dns", "connection", "timeout", "http_4xx", "http_5xx", "parse", "blocked", "process", "address")
TRUST_LEVELS = ("unverified", "trusted", "distrusted")
RUN_STATUSES = ("running", "finished", "failed", "interrupted", "skipped")


class FeedPolling(Base):
    """A polled feed's state, modelled on Media Cloud's rss-fetcher.

    Two writers, two sets of columns. The crawl that fetched the feed records facts: the
    validators and body hash of the last 200, when it last succeeded, found new entries or
    failed, and how. The scheduler daemon makes the decisions from those facts
    (``scheduler.polling``): the interval, the error score, the next poll, whether the
    server's conditional GET is trusted and whether the next poll sends validators.
    """

    __tablename__ = "feed_polling"
    __table_args__ = (
        _one_of("last_error_kind", POLL_ERROR_KINDS, nullable=True),
        _one_of("trust", TRUST_LEVELS),
    )

    feed_id: Mapped[int] = mapped_column(Id, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(64))
    body_sha1: Mapped[str | None] = mapped_column(String(40))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_new_entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_kind: Mapped[str | None] = mapped_column(String(16))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interval: Mapped[float | None] = mapped_column(Float)
    error_score: Mapped[float] = mapped_column(Float, default=0.0)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    trust: Mapped[str] = mapped_column(String(16), default="unverified")
    trust_checks: Mapped[int] = mapped_column(Integer, default=0)
    polls_since_audit: Mapped[int] = mapped_column(Integer, default=0)
    conditional: Mapped[bool] = mapped_column(Boolean, default=False)

    feed: Mapped[Feed] = relationship()


class FeedPollOutcome(Base):
    """One fetch of a feed, queued until the scheduler daemon has applied it to the feed's state.

    ``same_validators`` / ``same_body``: for a 200, whether its ETag and Last-Modified, and
    its body's SHA-1, equal those of the previous 200 (None when there was none to compare).
    """

    __tablename__ = "feed_poll_outcomes"
    __table_args__ = (_one_of("error_kind", POLL_ERROR_KINDS, nullable=True),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feed_id: Mapped[int] = mapped_column(Id, ForeignKey("feeds.id", ondelete="CASCADE"), index=True)
    polled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int | None] = mapped_column(Integer)
    error_kind: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    retry_after: Mapped[float | None] = mapped_column(Float)
    conditional: Mapped[bool] = mapped_column(Boolean, default=False)
    entries: Mapped[int | None] = mapped_column(Integer)
    new_entries: Mapped[int] = mapped_column(Integer, default=0)
    same_validators: Mapped[bool | None] = mapped_column(Boolean)
    same_body: Mapped[bool | None] = mapped_column(Boolean)


class Lease(Base):
    """A lock with an expiry: who crawls a source, which daemon runs the schedules.

    The holder renews ``expires_at`` while it works; a holder killed without releasing
    loses the lease when it expires (or at once, to a process on the same host that sees
    the holder's pid is gone). ``token`` identifies one acquisition.
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScheduleRun(Base):
    """A scheduled crawl the daemon started (or skipped because the source was being crawled)."""

    __tablename__ = "schedule_runs"
    __table_args__ = (_one_of("status", RUN_STATUSES),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    detail: Mapped[str | None] = mapped_column(Text)
    crawl_id: Mapped[int | None] = mapped_column(Id, ForeignKey("crawls.id", ondelete="SET NULL"))


#: The near-duplicate index's LSH buckets (see ``archive/neardup.py``): one row per band of
#: each article's MinHash signature.
minhash_bands = Table(
    "minhash_bands",
    Base.metadata,
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column("article_id", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)


class ArticleFingerprint(Base):
    """An article's MinHash signature and shingles, as the near-duplicate index saw them.

    Both are little-endian arrays (``<u4`` and ``<u8``) stored as bytes. ``shingles`` is
    optional: without it, verification recomputes them from ``articles.text``.
    """

    __tablename__ = "article_fingerprints"

    article_id: Mapped[int] = mapped_column(
        Id, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    shingles: Mapped[bytes | None] = mapped_column(LargeBinary)


class PageFact(Base):
    """What one placed page adds to the syndication analytics, as it was when last counted.

    Maintained with ``Tally`` by ``archive.syndication.tallies`` (whose docstring says when); a
    page is here while its latest placed article is an origin, a copy or an excerpt. A column is
    NULL where the figure it feeds does not count the page (``parent_site``: no parent archived;
    ``lag_*``: no parent; ``month`` and ``spread_*``: not a copy of an archived origin).
    """

    __tablename__ = "page_facts"
    __table_args__ = (
        Index("ix_page_facts_site_lag_seconds", "site", "lag_seconds"),
        Index("ix_page_facts_site_similarity", "site", "similarity"),
    )

    url_key: Mapped[str] = mapped_column(SurtKey, primary_key=True)
    article_id: Mapped[int] = mapped_column(Id)
    cluster_id: Mapped[int] = mapped_column(Id, index=True)
    relation: Mapped[str] = mapped_column(String(16))
    site: Mapped[str | None] = mapped_column(String(200))
    origin_id: Mapped[int | None] = mapped_column(Id)
    parent_site: Mapped[str | None] = mapped_column(String(200))
    cited: Mapped[bool] = mapped_column(Boolean)
    similarity: Mapped[float | None] = mapped_column(Float)
    kept: Mapped[float | None] = mapped_column(Float)
    edit_counts: Mapped[str | None] = mapped_column(Text)
    lag_seconds: Mapped[float | None] = mapped_column(Float)
    lag_measured: Mapped[str | None] = mapped_column(String(16))
    month: Mapped[str | None] = mapped_column(String(16))
    spread_author: Mapped[str | None] = mapped_column(Text)
    spread_site: Mapped[str | None] = mapped_column(String(200))


class Tally(Base):
    """One counter of the syndication analytics: ``n`` pages (or edits) and the ``total`` of a
    measure over them, for one ``figure`` and key (``name``, ``detail``): the sum of the
    ``PageFact`` rows' contributions (``archive.syndication.tallies``)."""

    __tablename__ = "tallies"
    __table_args__ = (Index("ix_tallies_figure_n", "figure", "n"),)

    figure: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    detail: Mapped[str] = mapped_column(Text, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[float] = mapped_column(Float)


class SourceCount(Base):
    """A source's captures, their bytes, its articles, failed extractions and pages (distinct URLs
    extracted), kept by triggers (``archive.db.sourcecounts``)."""

    __tablename__ = "source_counts"

    source_id: Mapped[int] = mapped_column(Id, ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    captures: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    articles: Mapped[int] = mapped_column(BigInteger)
    failed: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(BigInteger)
