"""Reading syndication back: a URL's chain as a tree, cluster listings, one row per article for export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from archive.db.models import Article, Capture, Source, Syndication
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
    key = url_key(url)
    row = session.scalars(
        select(Syndication)
        .join(Article, Article.id == Syndication.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .where((Capture.url_key == key) | (Article.canonical_url == url))
        .order_by(Article.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFoundError(f"{url}: no matched article in the archive (crawl it first, or run `dedup rebuild`)")
    return row


def _first_seen() -> Any:
    """Each page's first capture time, by URL key (a page's captures share the key)."""
    return select(Capture.url_key, func.min(Capture.timestamp).label("first")).group_by(Capture.url_key).subquery()


def _nodes(session: Session, condition: Any) -> list[Node]:
    first_seen = _first_seen()
    rows = session.execute(
        select(Syndication, Article, Source.name, first_seen.c.first)
        .join(Article, Article.id == Syndication.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .outerjoin(Source, Source.id == Capture.source_id)
        .join(first_seen, first_seen.c.url_key == Capture.url_key)
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
    for node in members + excerpts:
        if node is not root and node.parent_id in by_id:
            by_id[node.parent_id].children.append(node)
    return root


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


EXPORT_FIELDS = (
    "url",
    "cluster_id",
    "origin_url",
    "parent_url",
    "relation",
    "similarity",
    "published",
    "published_source",
    "site",
    "site_kind",
    "title",
    "first_captured",
    "is_syndicated_copy",
)

ARTICLE_FIELDS = (
    "url",
    "canonical_url",
    "title",
    "author",
    "published",
    "published_source",
    "language",
    "site",
    "site_kind",
    "sitename",
    "first_captured",
    "captured",
    "warc_file",
    "warc_offset",
    "text_hash",
    "cluster_id",
    "relation",
    "parent_url",
    "origin_url",
    "similarity",
)


@dataclass(frozen=True)
class _Exported:
    """One archived page's article as both exports read it: where it is stored and where it is placed."""

    article: Article
    capture: Capture
    source: Source | None
    first_captured: datetime
    cluster_id: int
    relation: str
    origin_url: str | None
    parent_url: str | None
    similarity: float | None


def _exported(session: Session, source: str | None = None) -> Iterator[_Exported]:
    """One row per archived page (its latest extracted article), placed or not; ``source``: that source's pages only.

    A page never placed by matching (too short to match) is a cluster of its own, ``unique``.
    """
    origin, parent = aliased(Article), aliased(Article)
    latest = (
        select(func.max(Article.id))
        .join(Capture, Capture.id == Article.capture_id)
        .where(Article.status == "ok")
        .group_by(Capture.url_key)
    )
    placed_latest = (
        select(func.max(Syndication.article_id))
        .join(Article, Article.id == Syndication.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .group_by(Capture.url_key)
    )
    first_seen = _first_seen()
    query = (
        select(Article, Capture, Syndication, Source, origin.url, parent.url, first_seen.c.first)
        .join(Capture, Capture.id == Article.capture_id)
        .join(first_seen, first_seen.c.url_key == Capture.url_key)
        .outerjoin(Source, Source.id == Capture.source_id)
        .outerjoin(Syndication, Syndication.article_id == Article.id)
        .outerjoin(origin, origin.id == Syndication.origin_id)
        .outerjoin(parent, parent.id == Syndication.parent_id)
        .where(
            Article.id.in_(placed_latest)
            | (Article.id.in_(latest) & ~Capture.url_key.in_(
                select(Capture.url_key).join(Article, Article.capture_id == Capture.id).join(
                    Syndication, Syndication.article_id == Article.id)
            ))
        )
        .order_by(Article.id)
    )
    if source is not None:
        query = query.where(Source.name == source)
    for article, capture, placed, site, origin_url, parent_url, first in session.execute(query):
        relation = placed.relation if placed is not None else "unique"
        yield _Exported(
            article=article,
            capture=capture,
            source=site,
            first_captured=first,
            cluster_id=placed.cluster_id if placed is not None else article.id,
            relation=relation,
            origin_url=origin_url or (article.url if relation != "copy" else None),
            parent_url=parent_url,
            similarity=placed.similarity if placed is not None else None,
        )


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """One row per archived page for ``clusters export``: ``EXPORT_FIELDS``."""
    for row in _exported(session):
        yield {
            "url": row.article.url,
            "cluster_id": row.cluster_id,
            "origin_url": row.origin_url,
            "parent_url": row.parent_url,
            "relation": row.relation,
            "similarity": row.similarity,
            "published": row.article.published,
            "published_source": row.article.published_source,
            "site": row.source.name if row.source else None,
            "site_kind": row.source.kind if row.source else None,
            "title": row.article.title,
            "first_captured": row.first_captured.isoformat(),
            "is_syndicated_copy": row.relation == "copy",
        }


def article_rows(session: Session, *, source: str | None = None, with_text: bool = False) -> Iterator[dict[str, Any]]:
    """One row per archived page for ``export articles``: ``ARTICLE_FIELDS``, then ``text`` with ``with_text``."""
    for row in _exported(session, source):
        article = row.article
        fields = {
            "url": article.url,
            "canonical_url": article.canonical_url,
            "title": article.title,
            "author": article.author,
            "published": article.published,
            "published_source": article.published_source,
            "language": article.language,
            "site": row.source.name if row.source else None,
            "site_kind": row.source.kind if row.source else None,
            "sitename": article.sitename,
            "first_captured": row.first_captured.isoformat(),
            "captured": row.capture.timestamp.isoformat(),
            "warc_file": row.capture.warc_file,
            "warc_offset": row.capture.warc_offset,
            "text_hash": article.text_hash,
            "cluster_id": row.cluster_id,
            "relation": row.relation,
            "parent_url": row.parent_url,
            "origin_url": row.origin_url,
            "similarity": row.similarity,
        }
        yield {**fields, "text": article.text} if with_text else fields
