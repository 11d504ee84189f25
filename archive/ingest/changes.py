"""After placement: what each copy changed in its parent, and what each page changed since its last capture.

Called by ``CaptureStore.store_articles`` in the transaction that placed the batch, so the
summaries and revisions are there when the crawl's rows are. The diff itself is
``archive.syndication.edits``; here are the rows it is stored in and the texts it is given:
the parent page's link texts come from its capture in the WARC file, so a copy that stripped
links is told apart from one that dropped words.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import delete, func, or_, select

from archive.db.models import Article, Capture, EditSummary, Revision, Source, Syndication
from archive.db.urls import url_key
from archive.errors import NotFoundError, QueryError, SyndicrawlError
from archive.lookup.snapshots import article_of, closest_capture, open_record, payload_capture
from archive.syndication import edits

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

#: A line a page adds to say it was changed: "Update:", "Updated (Nov. 2):", "Correction:",
#: "Editor's note:", "This article has been updated ...".
NOTE = re.compile(
    r"^\s*(?:(?:update|updated|correction|clarification|editor'?s note)\b[^:]{0,40}:"
    r"|(?:this|the) (?:article|story|post) (?:has been|was) (?:updated|corrected|amended))",
    re.IGNORECASE,
)


class _Record(NamedTuple):
    """Where a payload is: what ``open_record`` reads of a capture row."""

    warc_file: str
    warc_offset: int
    warc_length: int
    record_id: str


@lru_cache(maxsize=256)
def _record_links(warc_dir: Path, record: _Record) -> tuple[str, ...]:
    """The link texts of a stored page. Cached: the copies of a cluster, stored over several
    batches, are diffed against the same few pages, and parsing one costs 2-3 ms."""
    with open_record(warc_dir, record) as found:  # type: ignore[arg-type]
        return tuple(edits.link_texts(found.content_stream().read()))


def page_links(session: Session, warc_dir: Path, article: Article) -> list[str]:
    """The link texts of the page ``article`` was extracted from; none if its record cannot be read."""
    capture = session.get(Capture, article.capture_id)
    if capture is None:
        return []
    try:
        payload = payload_capture(session.connection(), capture)  # type: ignore[arg-type]
        record = _Record(payload.warc_file, payload.warc_offset, payload.warc_length, payload.record_id)
        return list(_record_links(warc_dir, record))
    except (SyndicrawlError, OSError) as exc:
        logger.debug("%s: no link texts for its diff: %s", article.url, exc)
        return []


def diff_articles(session: Session, warc_dir: Path | None, parent: Article, copy: Article) -> edits.TextDiff:
    """``edits.diff`` of two stored articles, with the parent page's link texts when ``warc_dir`` is given."""
    links = page_links(session, warc_dir, parent) if warc_dir is not None else []
    return edits.diff(parent.text, copy.text, parent_title=parent.title, copy_title=copy.title, link_texts=links)


def record(session: Session, warc_dir: Path, articles: Sequence[Article], modified: Sequence[str | None]) -> None:
    """Summarise the copies among ``articles`` and the copies of their clusters whose parent
    changed, and record a revision for each of ``articles`` whose page changed since its last
    capture (``modified``: the time each page says it was modified, if it does)."""
    summarise(session, warc_dir, [article.id for article in articles])
    revise(session, articles, modified)


def summarise(session: Session, warc_dir: Path | None, article_ids: Iterable[int] | None = None) -> int:
    """Store the edit summary of every copy in the clusters of ``article_ids`` (None: in every
    cluster, after ``dedup rebuild``) whose summary is missing or was made against another page
    than its parent (else origin) now is; how many."""
    against = func.coalesce(Syndication.parent_id, Syndication.origin_id)
    query = (
        select(Syndication.article_id, against)
        .outerjoin(EditSummary, EditSummary.article_id == Syndication.article_id)
        .where(
            against.is_not(None),
            against != Syndication.article_id,
            or_(EditSummary.article_id.is_(None), EditSummary.against_id.is_(None), EditSummary.against_id != against),
        )
    )
    if article_ids is not None:
        ids = list(article_ids)
        if not ids:
            return 0
        query = query.where(
            Syndication.cluster_id.in_(select(Syndication.cluster_id).where(Syndication.article_id.in_(ids)).scalar_subquery())
        )
    stale = session.execute(query).all()
    for copy_id, parent_id in stale:
        parent, copy = session.get(Article, parent_id), session.get(Article, copy_id)
        if parent is None or copy is None:
            continue
        summary = diff_articles(session, warc_dir, parent, copy).summary()
        session.execute(delete(EditSummary).where(EditSummary.article_id == copy_id))
        session.add(EditSummary(article_id=copy_id, against_id=parent_id, kept=summary.pop("kept"), counts=json.dumps(summary)))
    session.flush()
    return len(stale)


class _Seen(NamedTuple):
    """An article's page (URL key), capture time and order, and what tells two texts apart at a glance."""

    article_id: int
    url_key: str
    at: tuple[datetime, int]
    text_hash: str | None
    title: str | None


def _seen(session: Session, condition: Any) -> list[_Seen]:
    query = (
        select(Article.id, Capture.url_key, Capture.timestamp, Capture.id, Article.text_hash, Article.title)
        .join(Capture, Capture.id == Article.capture_id)
        .where(Article.status == "ok", condition)
    )
    return [_Seen(row[0], row[1], (row[2], row[3]), row[4], row[5]) for row in session.execute(query)]


def previous(session: Session, articles: Sequence[Article]) -> dict[int, tuple[_Seen, _Seen]]:
    """For each of ``articles`` whose page has an earlier capture with text, (that one, this one).

    Two statements a batch, whatever its size: most pages of a crawl are new, and a query per
    page cost the archive writer a millisecond each.
    """
    new = _seen(session, Article.id.in_([article.id for article in articles]))
    if not new:
        return {}
    same_pages = _seen(session, Capture.url_key.in_({seen.url_key for seen in new}))
    found = {}
    for seen in new:
        earlier = [other for other in same_pages if other.url_key == seen.url_key and other.at < seen.at]
        if earlier:
            found[seen.article_id] = (max(earlier, key=lambda other: other.at), seen)
    return found


def revise(session: Session, articles: Sequence[Article], modified: Sequence[str | None]) -> list[Revision]:
    """Record a revision for each of ``articles`` whose text differs from its page's previous
    capture beyond typography and boilerplate (``edits.TextDiff.changed``); ``modified``: the
    time each page says it was modified, if it does."""
    stated = {article.id: when for article, when in zip(articles, modified, strict=True)}
    revisions = []
    for article_id, (before, now) in previous(session, articles).items():
        if (before.text_hash, before.title) == (now.text_hash, now.title):
            continue
        old, new = session.get(Article, before.article_id), session.get(Article, article_id)
        assert old is not None and new is not None  # just read
        change = edits.diff(old.text, new.text, parent_title=old.title, copy_title=new.title)
        if change.changed:
            revisions.append(Revision(
                url_key=now.url_key, article_id=article_id, previous_id=old.id, seen_at=now.at[0],
                counts=json.dumps(change.counts()), declared=declared(change, stated[article_id], new.published),
            ))  # fmt: skip
    session.add_all(revisions)
    session.flush()
    return revisions


def declared(change: edits.TextDiff, modified: str | None, published: str | None) -> str | None:
    """How the page says it changed: a note among the lines it added, and a modification time it
    states apart from its publication time (WordPress states one on every post: the same when
    never edited). None for a stealth edit."""
    notes = [
        f"note: {line}"
        for edit in change.edits
        if edit.counted
        for line in edit.copy_text.splitlines()
        if NOTE.match(line)
    ]
    if modified and (not published or not modified.startswith(published[:19])):
        notes.append(f"modified {modified}")
    return "; ".join(notes) or None


# --- reading: ``syndicrawl diff`` and ``syndicrawl revisions`` ---------------------------------

#: What ``diff --against`` takes besides a URL.
RELATIVES = ("parent", "origin")


def page_article(session: Session, url: str, at: datetime | None = None) -> Article:
    """The article of ``url``'s capture nearest ``at`` (the latest without)."""
    return article_of(session, closest_capture(session.connection(), url, at))


def compared(
    session: Session, url: str, *, against: str | None = None, start: datetime | None = None, end: datetime | None = None
) -> tuple[Article, Article]:
    """The two articles a diff compares, earlier first: ``url``'s captures nearest ``start`` and
    ``end`` (its latest without ``end``) when ``start`` is given; else its latest against its
    parent, its origin (``against``) or another page's URL."""
    if start is not None:
        return page_article(session, url, start), page_article(session, url, end)
    after = page_article(session, url)
    which = against or "parent"
    return (relative(session, after, which) if which in RELATIVES else page_article(session, which)), after


def relative(session: Session, article: Article, which: str) -> Article:
    """``article``'s parent or origin in its cluster (a NotFoundError naming the page if it has none)."""
    placed = session.get(Syndication, article.id) or _placed(session, article)
    wanted = None if placed is None else placed.parent_id if which == "parent" else placed.origin_id
    if which == "parent" and wanted is None and placed is not None:
        wanted = placed.origin_id  # a copy straight off its origin
    if wanted is None or wanted in (article.id, placed.article_id if placed else None):
        raise NotFoundError(f"{article.url}: no {which} (it is {placed.relation if placed else 'unique'}); give --against URL")
    found = session.get(Article, wanted)
    if found is None:
        raise NotFoundError(f"{article.url}: its {which} #{wanted} is no longer in the archive")
    return found


def _placed(session: Session, article: Article) -> Syndication | None:
    """The placement of the page's latest placed article: a page captured again with the same text
    is not placed again (matching keeps one article a page), as the ``pages`` view knows."""
    return session.scalars(
        select(Syndication)
        .join(Article, Article.id == Syndication.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .where(Capture.url_key == select(Capture.url_key).where(Capture.id == article.capture_id).scalar_subquery())
        .order_by(Syndication.article_id.desc())
        .limit(1)
    ).first()


def revisions_of(session: Session, url: str) -> list[Revision]:
    """Every revision recorded of ``url``'s page (a variant URL too: same key), oldest first."""
    found = list(session.scalars(select(Revision).where(Revision.url_key == url_key(url)).order_by(Revision.seen_at)))
    if not found and session.scalar(select(Capture.id).where(Capture.url_key == url_key(url)).limit(1)) is None:
        raise NotFoundError(f"{url}: no capture in the archive")
    return found


def changed_since(session: Session, since: datetime, source: str | None = None) -> list[Revision]:
    """Revisions seen at or after ``since``, oldest first; ``source``: of that source's pages only."""
    query = select(Revision).where(Revision.seen_at >= since).order_by(Revision.seen_at, Revision.id)
    if source is not None:
        if session.scalar(select(Source.id).where(Source.name == source)) is None:
            raise QueryError(f"--source {source!r}: no such source in the archive")
        query = query.join(Article, Article.id == Revision.article_id).join(Capture, Capture.id == Article.capture_id)
        query = query.join(Source, Source.id == Capture.source_id).where(Source.name == source)
    return list(session.scalars(query))

