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
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, or_, select

from archive.db import pages
from archive.db.models import Article, Capture, EditSummary, Revision, Source, Syndication
from archive.db.urls import url_key
from archive.errors import NotFoundError, QueryError, SyndicrawlError
from archive.lookup.snapshots import article_of, closest_capture, open_replay
from archive.syndication import edits

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from datetime import datetime
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


def page_links(session: Session, warc_dir: Path, article: Article) -> list[str]:
    """The link texts of the page ``article`` was extracted from; none if its record cannot be read."""
    capture = session.get(Capture, article.capture_id)
    if capture is None:
        return []
    try:
        with open_replay(session.connection(), warc_dir, capture) as replay:  # type: ignore[arg-type]
            return edits.link_texts(replay.decoded().read())
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
    for article, stated in zip(articles, modified, strict=True):
        if article.status == "ok":
            revise(session, article, stated)


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


def previous(session: Session, article: Article) -> Article | None:
    """The page's article from its latest earlier capture with text, if any."""
    capture = session.get(Capture, article.capture_id)
    if capture is None:
        return None
    return session.scalars(
        select(Article)
        .join(Capture, Capture.id == Article.capture_id)
        .where(
            Capture.url_key == capture.url_key,
            Article.status == "ok",
            Article.id != article.id,
            or_(Capture.timestamp < capture.timestamp, and_(Capture.timestamp == capture.timestamp, Capture.id < capture.id)),
        )
        .order_by(Capture.timestamp.desc(), Capture.id.desc())
        .limit(1)
    ).first()


def revise(session: Session, article: Article, modified: str | None = None) -> Revision | None:
    """Record a revision if ``article``'s text differs from its page's previous capture beyond
    typography and boilerplate (``edits.TextDiff.changed``)."""
    before = previous(session, article)
    if before is None or before.text_hash == article.text_hash and before.title == article.title:
        return None
    change = edits.diff(before.text, article.text, parent_title=before.title, copy_title=article.title)
    if not change.changed:
        return None
    capture = session.get(Capture, article.capture_id)
    assert capture is not None  # previous() found it
    revision = Revision(
        url_key=capture.url_key,
        article_id=article.id,
        previous_id=before.id,
        seen_at=capture.timestamp,
        counts=json.dumps(change.counts()),
        declared=declared(change, modified, article.published),
    )
    session.add(revision)
    session.flush()
    return revision


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


def relative(session: Session, article: Article, which: str) -> Article:
    """``article``'s parent or origin in its cluster (a NotFoundError naming the page if it has none)."""
    placed = session.get(Syndication, article.id)
    wanted = None if placed is None else placed.parent_id if which == "parent" else placed.origin_id
    if which == "parent" and wanted is None and placed is not None:
        wanted = placed.origin_id  # a copy straight off its origin
    if wanted is None or wanted == article.id:
        raise NotFoundError(f"{article.url}: no {which} (it is {placed.relation if placed else 'unique'}); give --against URL")
    found = session.get(Article, wanted)
    if found is None:
        raise NotFoundError(f"{article.url}: its {which} #{wanted} is no longer in the archive")
    return found


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


#: The export columns of the summaries (``clusters export``), as ``syndicrawl.cli.rows`` types them.
EXPORT_FIELDS = {"edit_summary": "str", "text_kept": "float"}


def with_summaries(session: Session, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Export rows (one per page, by ``url``) with their page's ``EXPORT_FIELDS``; None for a page
    that copies nothing (an origin, a page of its own)."""
    page = pages.page_select().subquery("page")
    found = {
        row.url: (row.edit_summary, row.text_kept)
        for row in session.execute(select(page.c.url, page.c.edit_summary, page.c.text_kept).where(page.c.edit_summary.is_not(None)))
    }
    for row in rows:
        summary, kept = found.get(row["url"], (None, None))
        yield {**row, "edit_summary": summary, "text_kept": kept}
