"""The syndication analytics kept current as pages are placed: each page's facts and their tallies.

Computed from every page at each view, the figures took 19 s at 500,000 pages (the ``pages``
query grouping every capture, a join to each repost's parent, each lag parsed in Python); kept
here, the analytics page reads a few thousand counters and a few index seeks
(``archive.syndication.analytics``).

A placed page (its latest placed article an origin, a copy or an excerpt, as the ``pages`` view
picks it) has a ``PageFact`` row: what the figures count it by. Its contributions (``_counted``),
summed per figure and key, are the ``Tally`` rows. A writer placing pages wraps matching and the
edit summaries in ``kept_current``: the articles whose placement or summary the session wrote
(seen in its flushes) and those it stored are the pages touched, whose facts are computed again
and the tallies moved by the difference, in the same transaction. So the figures are exact, not
a cache refreshed now and then: they agree with ``export`` and ``chain`` as each batch commits.
``rebuild`` computes everything from scratch (``dedup rebuild``, migration 0015); a test compares
the two after a crawl. Rows deleted by ``doctor`` (WARC files gone) stay counted until a rebuild.
"""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, event, exists, func, insert, select, tuple_
from sqlalchemy.orm import aliased

from archive.db import advisory, pages
from archive.db.engine import upsert_adding
from archive.db.models import Article, ArticleCitation, Capture, EditSummary, PageFact, Source, Syndication, Tally

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sqlalchemy import Subquery
    from sqlalchemy.orm import Session

REPOSTS = ("copy", "excerpt")
COUNTED = ("origin", *REPOSTS)
#: A copy's month when it states no date: its stories still count in the spread.
UNDATED = "undated"
#: A site unknown (a capture whose source was deleted), as the figures name it.
UNKNOWN = "?"
#: PostgreSQL: writers move the tallies one at a time (each reads a page's counted facts, then
#: adds the difference), as SQLite's one writer does anyway.
LOCK = 0x7461_6C6C_6965_73
_CHUNK = 500  # ids or keys per IN list
_BATCH = 5_000


def articles(name: str) -> Subquery:
    """Articles with their capture time and source's name, joined to a page's parent or origin by id."""
    return (
        select(Article.id, Article.url, Article.title, Article.author, Article.published,
               Capture.timestamp.label("captured"), Source.name.label("site"))
        .join(Capture, Capture.id == Article.capture_id)
        .outerjoin(Source, Source.id == Capture.source_id)
        .subquery(name)
    )


def _facts(session: Session, keys: list[str] | None) -> Iterator[dict[str, Any]]:
    """The ``PageFact`` rows of these pages (URL keys; None: every page), as the ``pages`` view's
    rows of them give them: its latest placed article, its first capture time, its parent and origin."""
    placed = (
        select(Capture.url_key, func.max(Syndication.article_id).label("article_id"))
        .select_from(Syndication)
        .join(Article, Article.id == Syndication.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .group_by(Capture.url_key)
    )
    first_seen = select(Capture.url_key, func.min(Capture.timestamp).label("first_captured")).group_by(Capture.url_key)
    if keys is not None:
        placed, first_seen = placed.where(Capture.url_key.in_(keys)), first_seen.where(Capture.url_key.in_(keys))
    placed_q, first_q = placed.subquery("placed"), first_seen.subquery("first_seen")
    parent, origin = articles("parent"), articles("origin")
    page_capture = aliased(Capture, name="page_capture")
    query = (
        select(
            placed_q.c.url_key, Article.id, Syndication.cluster_id, Syndication.relation, Source.name,
            Syndication.origin_id, Syndication.similarity, EditSummary.kept, EditSummary.counts,
            exists().where(ArticleCitation.article_id == Article.id), Article.published, first_q.c.first_captured,
            parent.c.id, parent.c.site, parent.c.published, parent.c.captured, origin.c.id, origin.c.author,
            origin.c.site,
        )
        .select_from(placed_q)
        .join(Article, Article.id == placed_q.c.article_id)
        .join(Syndication, Syndication.article_id == Article.id)
        .join(page_capture, page_capture.id == Article.capture_id)
        .outerjoin(Source, Source.id == page_capture.source_id)
        .join(first_q, first_q.c.url_key == placed_q.c.url_key)
        .outerjoin(EditSummary, EditSummary.article_id == Article.id)
        .outerjoin(parent, parent.c.id == Syndication.parent_id)
        .outerjoin(origin, origin.c.id == Syndication.origin_id)
        .where(Syndication.relation.in_(COUNTED))
    )
    for (key, article_id, cluster_id, relation, site, placed_origin, similarity, kept, counts, cited, published,
         first_captured, parent_id, parent_site, parent_published, parent_captured, origin_found, origin_author,
         origin_site) in session.execute(query.execution_options(yield_per=_BATCH)):
        repost = relation in REPOSTS
        lag = (_lag(published, parent_published, first_captured, parent_captured)
               if repost and parent_id is not None else (None, None))
        spread = relation == "copy" and origin_found is not None
        yield {
            "url_key": key, "article_id": article_id, "cluster_id": cluster_id, "relation": relation, "site": site,
            # the pages view's origin_id: an origin's own id where its placement names none
            "origin_id": placed_origin if placed_origin is not None or relation != "origin" else article_id,
            "parent_site": (parent_site or UNKNOWN) if repost and parent_id is not None else None,
            "cited": bool(cited), "similarity": similarity if repost else None, "kept": kept if repost else None,
            "edit_counts": counts if repost else None, "lag_seconds": lag[0], "lag_measured": lag[1],
            "month": (published[:7] if published and len(published) >= len("YYYY-MM-DD") else UNDATED) if spread else None,
            "spread_author": (origin_author or UNKNOWN) if spread else None,
            "spread_site": (origin_site or UNKNOWN) if spread else None,
        }


def _lag(published: str | None, parent_published: str | None, captured: datetime,
         parent_captured: datetime) -> tuple[float, str]:
    """A repost's delay after its parent, and how it was measured: from the published times the two
    pages state (to the day when either gives no time), else from the parent's capture to the repost's first."""
    day, moment = pages.published_parts(published)
    parent_day, parent_moment = pages.published_parts(parent_published)
    if moment is not None and parent_moment is not None:
        return (moment - parent_moment).total_seconds(), "published"
    if day is not None and parent_day is not None:
        return (day - parent_day).days * 86400.0, "published day"
    return (captured - parent_captured).total_seconds(), "captured"


def _counted(fact: dict[str, Any]) -> Iterator[tuple[tuple[str, str, str], int, float]]:
    """What one page adds to the tallies: ((figure, name, detail), n, total) each."""
    site = fact["site"] or UNKNOWN
    if fact["relation"] in REPOSTS:
        yield ("reposts", site, fact["relation"]), 1, 0.0
        if fact["parent_site"] is not None:
            yield ("graph", fact["parent_site"], site), 1, float(fact["cited"])
            yield ("lag", site, fact["lag_measured"]), 1, fact["lag_seconds"]
        if fact["similarity"] is not None:
            yield ("similarity", site, ""), 1, fact["similarity"]
        if fact["kept"] is not None:
            yield ("kept", site, ""), 1, fact["kept"]
        for kind, count in json.loads(fact["edit_counts"] or "{}").items():
            if count:
                yield ("kind", site, kind), count, 0.0
    if fact["month"] is not None:
        yield ("author", fact["spread_author"], fact["month"]), 1, 0.0
        yield ("origin_site", fact["spread_site"], fact["month"]), 1, 0.0
    if fact["relation"] == "copy":
        yield ("cluster", cluster_name(fact["cluster_id"]), ""), 1, 0.0


def cluster_name(cluster_id: int) -> str:
    """A cluster's key in the tallies: zero-padded, so that names sort as the ids do."""
    return f"{cluster_id:020d}"


def _add(sums: dict[tuple[str, str, str], list[float]], fact: dict[str, Any], sign: int) -> None:
    for key, n, total in _counted(fact):
        entry = sums[key]
        entry[0] += sign * n
        entry[1] += sign * total


@contextmanager
def kept_current(session: Session, stored: Iterable[int]) -> Iterator[None]:
    """Refresh the tallies of the pages the block places: those of ``stored`` (new articles) and
    of every article whose placement or edit summary the session writes meanwhile."""
    touched = set(stored)

    def collect(s: Session, _context: object, _instances: object) -> None:
        touched.update(obj.article_id for obj in (*s.new, *s.dirty, *s.deleted) if isinstance(obj, (Syndication, EditSummary)))

    event.listen(session, "before_flush", collect)
    try:
        yield
        session.flush()
    finally:
        event.remove(session, "before_flush", collect)
    refresh(session, touched)


def refresh(session: Session, article_ids: Iterable[int]) -> None:
    """Count the pages of these articles again, moving the tallies by the difference."""
    ids = sorted(set(article_ids))
    if not ids:
        return
    advisory.lock_keys(session, [LOCK])
    keys = sorted({key for chunk in _chunks(ids) for key in session.scalars(
        select(Capture.url_key).join(Article, Article.capture_id == Capture.id).where(Article.id.in_(chunk)))})
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    new: list[dict[str, Any]] = []
    for chunk in _chunks(keys):
        for old in session.execute(select(*PageFact.__table__.c).where(PageFact.url_key.in_(chunk))).mappings():
            _add(sums, dict(old), -1)
        for fact in _facts(session, chunk):
            _add(sums, fact, 1)
            new.append(fact)
        session.execute(delete(PageFact).where(PageFact.url_key.in_(chunk)))
    if new:
        session.execute(insert(PageFact), new)
    moved = [(key, n, total) for key, (n, total) in sums.items() if n or total]
    if not moved:
        return
    session.execute(
        upsert_adding(session, Tally.__table__, ("figure", "name", "detail"), ("n", "total")),
        [{"figure": figure, "name": name, "detail": detail, "n": int(n), "total": total}
         for (figure, name, detail), n, total in moved],
    )
    for chunk in _chunks([key for key, _, _ in moved]):
        session.execute(delete(Tally).where(tuple_(Tally.figure, Tally.name, Tally.detail).in_(chunk), Tally.n == 0))


def rebuild(session: Session) -> int:
    """Count every page from scratch; returns the pages counted."""
    session.execute(delete(Tally))
    session.execute(delete(PageFact))
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    batch: list[dict[str, Any]] = []
    counted = 0
    for fact in _facts(session, None):
        _add(sums, fact, 1)
        batch.append(fact)
        if len(batch) == _BATCH:
            session.execute(insert(PageFact), batch)
            counted += len(batch)
            batch = []
    if batch:
        session.execute(insert(PageFact), batch)
        counted += len(batch)
    rows = [{"figure": f, "name": name, "detail": detail, "n": int(n), "total": total}
            for (f, name, detail), (n, total) in sums.items() if n]
    for start in range(0, len(rows), _BATCH):
        session.execute(insert(Tally), rows[start : start + _BATCH])
    return counted


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]

