"""Reading syndication back: a URL's chain as a tree, cluster listings, one row per page for export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import aliased

from archive.db import pages
from archive.db.models import Article, Capture, Revision, Source, Syndication
from archive.db.urls import url_key
from archive.errors import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass
class Node:
    """One article in a chain, with the evidence for its place under its parent."""

    article_id: int
    url: str
    site: str | None
    title: str | None
    published: str | None
    published_source: str | None
    first_captured: datetime
    relation: str
    parent_id: int | None
    similarity: float | None
    evidence: list[str]
    #: When the origin's page was seen revised after this page was first captured: this copy
    #: carries the origin's text before that revision (a stealth edit the reposts did not follow).
    before_revision: datetime | None = None
    children: list[Node] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "site": self.site,
            "title": self.title,
            "published": self.published,
            "published_source": self.published_source,
            "first_captured": self.first_captured.isoformat(),
            "relation": self.relation,
            "similarity": self.similarity,
            "evidence": self.evidence,
            "before_revision": self.before_revision.isoformat() if self.before_revision else None,
            "children": [child.to_dict() for child in self.children],
        }


@dataclass(frozen=True)
class ClusterSummary:
    cluster_id: int
    size: int
    origin_url: str
    origin_site: str | None
    title: str | None
    sites: tuple[str, ...]


def _placed_article(session: Session, url: str) -> Syndication:
    """The placement of the page at ``url`` (any capture of it), or of the article whose canonical URL it is."""
    # Two index lookups, not an OR across the join: the database scanned every article for it (70 ms
    # of CPU at 100,000 pages).
    by_key = select(Article.id).join(Capture, Capture.id == Article.capture_id).where(Capture.url_key == url_key(url))
    by_canonical = select(Article.id).where(Article.canonical_url == url)
    row = session.scalars(
        select(Syndication)
        .where(Syndication.article_id.in_(union(by_key, by_canonical)))
        .order_by(Syndication.article_id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFoundError(f"{url}: no matched article in the archive (crawl it first, or run `dedup rebuild`)")
    return row


def _first_seen() -> Any:
    """The row's page's first capture time (its captures share the URL key), per row: an index
    seek on (url_key, timestamp) for the cluster's pages, not a grouping of every capture archived
    (2.17 s at 500,000 pages)."""
    earlier = aliased(Capture, name="earlier")
    return select(func.min(earlier.timestamp)).where(earlier.url_key == Capture.url_key).scalar_subquery()


def _nodes(session: Session, condition: Any) -> list[Node]:
    rows = session.execute(
        select(Syndication, Article, Source.name, _first_seen())
        .join(Article, Article.id == Syndication.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .outerjoin(Source, Source.id == Capture.source_id)
        .where(condition)
        .order_by(Article.id)
    ).all()
    return [
        Node(
            article_id=article.id,
            url=article.url,
            site=site,
            title=article.title,
            published=article.published,
            published_source=article.published_source,
            first_captured=first,
            relation=placed.relation,
            parent_id=placed.parent_id,
            similarity=placed.similarity,
            evidence=json.loads(placed.evidence or "[]"),
        )
        for placed, article, site, first in rows
    ]


def chain(session: Session, url: str) -> Node:
    """The tree of ``url``'s cluster from its origin; excerpts hang under the page they were cut from.

    For an excerpt, the tree of the cluster it was cut from (the excerpt is one of its leaves).
    """
    placed = _placed_article(session, url)
    if placed.relation == "excerpt" and placed.parent_id is not None:
        placed = session.get(Syndication, placed.parent_id) or placed
    members = _nodes(session, Syndication.cluster_id == placed.cluster_id)
    ids = [node.article_id for node in members]
    excerpts = _nodes(session, (Syndication.relation == "excerpt") & Syndication.parent_id.in_(ids))
    by_id = {node.article_id: node for node in members + excerpts}
    root = next((n for n in members if n.relation in {"origin", "unique"}), members[0])
    revised = _revisions(session, root.article_id)
    for node in members + excerpts:
        if node is not root:
            node.before_revision = next((seen for seen in revised if seen > node.first_captured), None)
            if node.parent_id in by_id:
                by_id[node.parent_id].children.append(node)
    return root


def _revisions(session: Session, article_id: int) -> list[datetime]:
    """When the page of ``article_id`` was seen revised (``archive.ingest.changes`` records it), oldest
    first. Read here, not through ``changes.revisions_of``: ingest is the layer above syndication."""
    page_key = select(Capture.url_key).join(Article, Article.capture_id == Capture.id).where(Article.id == article_id)
    return list(session.scalars(
        select(Revision.seen_at).where(Revision.url_key == page_key.scalar_subquery()).order_by(Revision.seen_at)
    ))


def clusters(session: Session, *, source: str | None = None, min_size: int = 2) -> list[ClusterSummary]:
    """Clusters of at least ``min_size`` articles (optionally: with a member from ``source``), largest first."""
    member_site = select(Syndication.cluster_id, Source.name.label("site"), Syndication.relation, Article)
    member_site = member_site.join(Article, Article.id == Syndication.article_id)
    member_site = member_site.join(Capture, Capture.id == Article.capture_id)
    member_site = member_site.outerjoin(Source, Source.id == Capture.source_id)
    grouped: dict[int, list[tuple[str | None, str, Article]]] = {}
    for cluster_id, site, relation, article in session.execute(
        member_site.where(Syndication.relation.in_(("origin", "copy", "unique")))
    ):
        grouped.setdefault(cluster_id, []).append((site, relation, article))
    summaries = []
    for cluster_id, rows in grouped.items():
        sites = tuple(sorted({site or "?" for site, _, _ in rows}))
        if len(rows) < min_size or (source is not None and source not in sites):
            continue
        origin_site, _, origin = next((r for r in rows if r[1] in {"origin", "unique"}), rows[0])
        summaries.append(ClusterSummary(cluster_id, len(rows), origin.url, origin_site, origin.title, sites))
    return sorted(summaries, key=lambda c: (-c.size, c.cluster_id))


#: The exports' columns and their types: ``str``, ``int``, ``float``, ``bool``, ``date``, ``time``
#: (an instant, UTC). Every export has them all, typed alike whatever its rows, so exports of
#: different sources or days read as one dataset. ``edit_summary`` (JSON: edits per kind) and
#: ``text_kept`` say what a copy changed in its parent; None for a page that copies nothing.
EXPORT_FIELDS: dict[str, str] = {
    "url": "str",
    "cluster_id": "int",
    "origin_url": "str",
    "parent_url": "str",
    "relation": "str",
    "similarity": "float",
    "published": "str",
    "published_date": "date",
    "published_time": "time",
    "published_source": "str",
    "site": "str",
    "site_kind": "str",
    "title": "str",
    "first_captured": "time",
    "is_syndicated_copy": "bool",
    "edit_summary": "str",
    "text_kept": "float",
}

ARTICLE_FIELDS: dict[str, str] = {
    "url": "str",
    "canonical_url": "str",
    "title": "str",
    "author": "str",
    "published": "str",
    "published_date": "date",
    "published_time": "time",
    "published_source": "str",
    "language": "str",
    "site": "str",
    "site_kind": "str",
    "sitename": "str",
    "first_captured": "time",
    "captured": "time",
    "warc_file": "str",
    "warc_offset": "int",
    "text_hash": "str",
    "cluster_id": "int",
    "relation": "str",
    "parent_url": "str",
    "origin_url": "str",
    "similarity": "float",
    "edit_summary": "str",
    "text_kept": "float",
}
ARTICLE_TEXT_FIELDS = {**ARTICLE_FIELDS, "text": "str"}


def _page_rows(session: Session, source: str | None = None, *, with_text: bool = False) -> Iterator[Any]:
    """The rows of the ``pages`` view (its query), oldest article first; ``source``: that source's pages only."""
    page = pages.page_select().subquery("page")
    query = select(page).order_by(page.c.article_id)
    if with_text:
        query = query.add_columns(Article.text).join(Article, Article.id == page.c.article_id)
    if source is not None:
        query = query.where(page.c.site == source)
    for row in session.execute(query):
        day, moment = pages.published_parts(row.published)
        yield row, {"published": row.published, "published_date": day, "published_time": moment}


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """One row per archived page for ``clusters export``: ``EXPORT_FIELDS``."""
    for row, published in _page_rows(session):
        yield {
            "url": row.url,
            "cluster_id": row.cluster_id,
            "origin_url": row.origin_url,
            "parent_url": row.parent_url,
            "relation": row.relation,
            "similarity": row.similarity,
            **published,
            "published_source": row.published_source,
            "site": row.site,
            "site_kind": row.site_kind,
            "title": row.title,
            "first_captured": row.first_captured,
            "is_syndicated_copy": row.relation == "copy",
            "edit_summary": row.edit_summary,
            "text_kept": row.text_kept,
        }


def article_rows(session: Session, *, source: str | None = None, with_text: bool = False) -> Iterator[dict[str, Any]]:
    """One row per archived page for ``export articles``: ``ARTICLE_FIELDS``, or ``ARTICLE_TEXT_FIELDS``."""
    for row, published in _page_rows(session, source, with_text=with_text):
        fields = {
            "url": row.url,
            "canonical_url": row.canonical_url,
            "title": row.title,
            "author": row.author,
            **published,
            "published_source": row.published_source,
            "language": row.language,
            "site": row.site,
            "site_kind": row.site_kind,
            "sitename": row.sitename,
            "first_captured": row.first_captured,
            "captured": row.captured,
            "warc_file": row.warc_file,
            "warc_offset": row.warc_offset,
            "text_hash": row.text_hash,
            "cluster_id": row.cluster_id,
            "relation": row.relation,
            "parent_url": row.parent_url,
            "origin_url": row.origin_url,
            "similarity": row.similarity,
            "edit_summary": row.edit_summary,
            "text_kept": row.text_kept,
        }
        yield {**fields, "text": row.text} if with_text else fields
