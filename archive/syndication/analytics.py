"""Syndication analytics: who reposts whom, how fast, how much they change, how far stories spread.

Aggregates over the ``pages`` view's query (``archive.db.pages``: one row per page, its latest
placed article), so a page crawled twice counts once, as in the exports. A repost is a page
placed as a ``copy`` or an ``excerpt`` of another (its parent): the edge it adds to the site
graph goes from the parent's site to its own. Each aggregate is one SQL statement, grouped by
the database (SQLite and PostgreSQL alike); only the repost lags are computed from one row per
repost, because the published times are the pages' own ISO 8601 strings, whose zones SQL
would have to parse differently on each back end. Each aggregate takes ``page``, the rows of
``page_rows`` when several are computed in a row (the analytics page, the report).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, Float, MetaData, Table, Text, cast, exists, func, insert, literal, select
from sqlalchemy.types import NullType

from archive.db import pages
from archive.db.models import Article, ArticleCitation, Capture, Source, Syndication

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sqlalchemy import FromClause, Subquery
    from sqlalchemy.orm import Session

REPOSTS = ("copy", "excerpt")
#: A page's month when it states no date: its stories still count in the spread.
UNDATED = "undated"


@dataclass(frozen=True)
class SiteEdge:
    """Reposts ``to_site`` took from ``from_site``; ``cited`` of them name where they came from."""

    from_site: str
    to_site: str
    reposts: int
    cited: int


@dataclass(frozen=True)
class SiteEdits:
    """How much one site's reposts keep of their parents' text and what they change in it.

    ``mean_kept``: the share of the parent's text kept, over the copies diffed (``diff``);
    ``edits``: their counted edits per kind (``archive.syndication.edits``), summed.
    """

    site: str
    reposts: int
    copies: int
    excerpts: int
    mean_similarity: float | None
    min_similarity: float | None
    mean_kept: float | None
    edits: dict[str, int]


@dataclass(frozen=True)
class Lag:
    """One repost's delay after its parent: from the published times the two pages state (to the
    day when either gives no time), else from the parent's capture to the repost's first."""

    site: str
    seconds: float
    measured: str  # "published", "published day" or "captured"


@dataclass(frozen=True)
class Spread:
    """Copies in one month (of the copy's published date) of stories by one author or origin site."""

    key: str
    month: str
    reposts: int


@dataclass(frozen=True)
class TopCluster:
    cluster_id: int
    copies: int
    sites: int
    origin_url: str | None
    origin_site: str | None
    title: str | None


def _pages(page: FromClause | None) -> FromClause:
    return pages.page_select().subquery("page") if page is None else page


@contextmanager
def page_rows(session: Session) -> Iterator[Table]:
    """The ``pages`` query's rows in a temporary table, for several aggregates in a row.

    Each aggregate over the query computes it again (every article and capture grouped by page:
    about 6 µs a page on SQLite); the figures of one analytics page read its rows once instead.
    """
    query = pages.page_select()
    columns = (Column(c.name, Text() if isinstance(c.type, NullType) else c.type) for c in query.selected_columns)
    table = Table("analytics_pages", MetaData(), *columns, prefixes=["TEMPORARY"])  # NullType: substr's
    conn = session.connection()
    # pysqlite runs DDL outside the transaction it opens for the INSERT: the session's rollback
    # undoes the DROP below, not the CREATE, and the table stays on the pooled connection.
    table.drop(conn, checkfirst=True)
    table.create(conn)
    try:
        conn.execute(insert(table).from_select([c.name for c in query.selected_columns], query))
        yield table
    finally:
        table.drop(conn)


def _articles(name: str) -> Subquery:
    """Articles with their capture time and source's name, to join a page's parent or origin to by id.

    A plain join, which both databases turn into primary-key lookups: joining the ``pages`` query
    to itself instead had SQLite compute it again for every row (80 s at 20,000 pages)."""
    return (
        select(Article.id, Article.url, Article.title, Article.author, Article.published,
               Capture.timestamp.label("captured"), Source.name.label("site"))
        .join(Capture, Capture.id == Article.capture_id)
        .outerjoin(Source, Source.id == Capture.source_id)
        .subquery(name)
    )


def site_graph(session: Session, page: FromClause | None = None) -> list[SiteEdge]:
    """Who reposts whom, heaviest edge first. ``cited``: the repost names a source page or site
    (an "originally appeared at" URL, a "Source:" credit, a canonical link to another host)."""
    page, parent = _pages(page), _articles("parent")
    cited = exists().where(ArticleCitation.article_id == page.c.article_id)
    from_site = func.coalesce(parent.c.site, literal("?"))
    to_site = func.coalesce(page.c.site, literal("?"))
    rows = session.execute(
        select(from_site, to_site, func.count(), func.count().filter(cited))
        .select_from(page.join(parent, parent.c.id == page.c.parent_id))
        .where(page.c.relation.in_(REPOSTS))
        .group_by(from_site, to_site)
        .order_by(func.count().desc(), from_site, to_site)
    ).all()
    return [SiteEdge(*row) for row in rows]


def site_edits(session: Session, page: FromClause | None = None) -> list[SiteEdits]:
    """Per repost site: its reposts, copies and excerpts, their similarity to their parents, the
    share of text they keep and their edits by kind (summed here from each copy's stored JSON, which
    SQLite and PostgreSQL would each unpack their own way)."""
    page = _pages(page)
    site = func.coalesce(page.c.site, literal("?")).label("site")
    reposts = page.c.relation.in_(REPOSTS)
    similarity = cast(page.c.similarity, Float)
    rows = session.execute(
        select(
            site,
            func.count(),
            func.count().filter(page.c.relation == "copy"),
            func.count().filter(page.c.relation == "excerpt"),
            func.avg(similarity),
            func.min(similarity),
            func.avg(cast(page.c.text_kept, Float)),
        )
        .where(reposts)
        .group_by(site)
        .order_by(func.count().desc(), site)
    ).all()
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for name, counts in session.execute(select(site, page.c.edit_summary).where(reposts, page.c.edit_summary.is_not(None))):
        kinds[name].update(json.loads(counts))
    return [SiteEdits(*row, edits=dict(kinds[row[0]].most_common())) for row in rows]


def repost_lags(session: Session, page: FromClause | None = None) -> list[Lag]:
    """Each repost's delay after its parent (see ``Lag``), by site."""
    page, parent = _pages(page), _articles("parent")
    rows = session.execute(
        select(page.c.site, page.c.published, parent.c.published, page.c.first_captured, parent.c.captured)
        .select_from(page.join(parent, parent.c.id == page.c.parent_id))
        .where(page.c.relation.in_(REPOSTS))
        .order_by(page.c.article_id)
    ).all()
    return [_lag(site or "?", *row) for site, *row in rows]


def _lag(site: str, published: str | None, parent_published: str | None,
         captured: datetime, parent_captured: datetime) -> Lag:
    day, moment = pages.published_parts(published)
    parent_day, parent_moment = pages.published_parts(parent_published)
    if moment is not None and parent_moment is not None:
        return Lag(site, (moment - parent_moment).total_seconds(), "published")
    if day is not None and parent_day is not None:
        return Lag(site, (day - parent_day).days * 86400.0, "published day")
    return Lag(site, (captured - parent_captured).total_seconds(), "captured")


def spread(session: Session, by: str, limit: int = 10, page: FromClause | None = None) -> list[Spread]:
    """Copies per month of the ``limit`` origin authors (``by="author"``) or origin sites
    (``by="site"``) copied most. Copies only: an excerpt names the page it was cut from, not
    that page's origin (``origin_id`` is kept for origins and copies)."""
    if by not in ("author", "site"):
        raise ValueError(f"spread by author or site, not {by!r}")
    page, origin = _pages(page), _articles("origin")
    key = func.coalesce(getattr(origin.c, by), literal("?")).label("key")
    month = func.coalesce(func.substr(page.c.published_date, 1, 7), literal(UNDATED)).label("month")
    joined = page.join(origin, origin.c.id == page.c.origin_id)
    reposts = page.c.relation == "copy"
    top = (
        select(key).select_from(joined).where(reposts).group_by(key)
        .order_by(func.count().desc(), key).limit(limit).subquery("top")
    )
    rows = session.execute(
        select(key, month, func.count())
        .select_from(joined)
        .where(reposts, key.in_(select(top.c.key)))
        .group_by(key, month)
        .order_by(key, month)
    ).all()
    return [Spread(*row) for row in rows]


def top_clusters(session: Session, limit: int = 10, page: FromClause | None = None) -> list[TopCluster]:
    """The ``limit`` clusters with the most copies, with their origin page."""
    page, origin = _pages(page), _articles("origin")
    members = (
        select(
            page.c.cluster_id,
            func.count().filter(page.c.relation == "copy").label("copies"),
            func.count(func.distinct(page.c.site)).label("sites"),
            func.max(page.c.origin_id).label("origin_id"),
        )
        .where(page.c.relation.in_(("origin", "copy")))
        .group_by(page.c.cluster_id)
        .subquery("members")
    )
    rows = session.execute(
        select(members.c.cluster_id, members.c.copies, members.c.sites, origin.c.url, origin.c.site, origin.c.title)
        .select_from(members.outerjoin(origin, origin.c.id == members.c.origin_id))
        .where(members.c.copies > 0)
        .order_by(members.c.copies.desc(), members.c.cluster_id)
        .limit(limit)
    ).all()
    return [TopCluster(*row) for row in rows]


def cluster_sizes(session: Session, cluster_ids: Iterable[int]) -> dict[int, int]:
    """The number of pages (origin and copies; a page crawled twice once) in each of these clusters.

    From the clusters' own rows (indexed by cluster), not the ``pages`` view, whose grouping of
    every capture by page would cost a search page a scan of the archive."""
    ids = set(cluster_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Syndication.cluster_id, func.count(func.distinct(Capture.url_key)))
        .join(Article, Article.id == Syndication.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .where(Syndication.cluster_id.in_(ids), Syndication.relation.in_(("origin", "copy", "unique")))
        .group_by(Syndication.cluster_id)
    ).all()
    return {cluster_id: size for cluster_id, size in rows}
