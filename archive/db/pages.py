"""The ``pages`` view: one row per archived page, its latest article placed in syndication.

``articles`` has a row per extracted capture, so a page crawled twice is there twice; a query
on it counts pages twice. ``pages`` has one row per page (captures sharing a URL key): the
latest article that matching placed, or, for a page never placed (too short to match), its
latest extracted one, with where it is stored, its source, and its cluster, relation, origin
and parent (ids and URLs). A page never placed is a cluster of its own, ``unique``, its own
origin. The exports (``export articles``, ``clusters export``) read the same query, so the
view and the files agree row for row.

Like the full-text index, the view is SQL built from this module: by migration 0010 on an
existing archive and after ``create_all`` on a new one. A change to it is a migration calling
``drop`` then ``create``; so is a migration rebuilding ``articles``, ``captures``, ``sources``
or ``syndication`` in batch mode on SQLite, whose final rename fails while a view names a
table that is, for that moment, gone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import aliased

from archive.db.models import Article, Capture, EditSummary, Source, Syndication

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.engine import Connection

VIEW = "pages"


def page_select(*, edits: bool = True) -> Select[Any]:
    """The view's query: one row per page, in no particular order.

    ``edits``: with ``edit_summary`` (JSON: share of its parent's text kept, edits per kind) and
    ``text_kept``; without them, the view as migration 0010 made it, before their table (0012).
    """
    placed_or_ok = func.coalesce(
        func.max(Syndication.article_id), func.max(case((Article.status == "ok", Article.id)))
    )
    chosen = (
        select(placed_or_ok.label("article_id"))
        .select_from(Article)
        .join(Capture, Capture.id == Article.capture_id)
        .outerjoin(Syndication, Syndication.article_id == Article.id)
        .group_by(Capture.url_key)
        .subquery("chosen")
    )
    # Over every capture of the page (revisits, failed extractions), not only those with an article.
    first_seen = (
        select(Capture.url_key, func.min(Capture.timestamp).label("first_captured"))
        .group_by(Capture.url_key)
        .subquery("first_seen")
    )
    relation = func.coalesce(Syndication.relation, literal("unique"))
    origin_id = case(
        (Syndication.origin_id.is_not(None), Syndication.origin_id), (relation == "copy", None), else_=Article.id
    )
    origin, parent = aliased(Article, name="origin"), aliased(Article, name="parent")
    query = (
        select(
            Article.id.label("article_id"),
            Capture.url_key,
            Article.url,
            Article.canonical_url,
            Article.title,
            Article.author,
            Article.published,
            case((func.length(Article.published) >= 10, func.substr(Article.published, 1, 10))).label(
                "published_date"
            ),
            Article.published_source,
            Article.language,
            Source.name.label("site"),
            Source.kind.label("site_kind"),
            Article.sitename,
            first_seen.c.first_captured,
            Capture.timestamp.label("captured"),
            Capture.id.label("capture_id"),
            Capture.warc_file,
            Capture.warc_offset,
            Capture.warc_length,
            Article.text_hash,
            func.coalesce(Syndication.cluster_id, Article.id).label("cluster_id"),
            relation.label("relation"),
            Syndication.similarity,
            origin_id.label("origin_id"),
            origin.url.label("origin_url"),
            Syndication.parent_id,
            parent.url.label("parent_url"),
        )
        .select_from(chosen)
        .join(Article, Article.id == chosen.c.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .join(first_seen, first_seen.c.url_key == Capture.url_key)
        .outerjoin(Source, Source.id == Capture.source_id)
        .outerjoin(Syndication, Syndication.article_id == Article.id)
        .outerjoin(origin, origin.id == origin_id)
        .outerjoin(parent, parent.id == Syndication.parent_id)
    )
    if not edits:
        return query
    return query.add_columns(
        EditSummary.counts.label("edit_summary"), EditSummary.kept.label("text_kept")
    ).outerjoin(EditSummary, EditSummary.article_id == Article.id)


def create(conn: Connection, *, edits: bool = True) -> None:
    """Create the view on ``conn``'s backend (``edits``: see ``page_select``)."""
    query = page_select(edits=edits).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    conn.exec_driver_sql(f"CREATE VIEW {VIEW} AS {query}")


def drop(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP VIEW {VIEW}")


def published_parts(published: str | None) -> tuple[date | None, datetime | None]:
    """A stored ``published`` as a day and an instant, the typed columns of the exports.

    The day is the one the page states, in its own zone (``2016-11-01`` of
    ``2016-11-01T23:30:00-05:00``), so pages group by the day their readers saw; the instant is
    in UTC, and only when a time is known. A month alone (``2016-11``, from a URL's path) is
    neither: it stays in ``published``. A time without a zone is UTC, as everywhere in the archive.
    """
    if published is None or len(published) < len("YYYY-MM-DD"):
        return None, None
    try:
        day = date.fromisoformat(published[:10])
        if len(published) == len("YYYY-MM-DD"):
            return day, None
        moment = datetime.fromisoformat(published)
    except ValueError:
        return None, None
    return day, moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
