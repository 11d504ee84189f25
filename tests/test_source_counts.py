"""The per source counts of the home page and ``syndicrawl sources``, kept by triggers, equal those
counted from scratch however rows come and go (``archive.db.sourcecounts``), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from archive.db import catalog, sourcecounts
from archive.db.engine import Database
from archive.db.models import Article, Capture, SourceCount

T0 = datetime(2024, 3, 1, tzinfo=UTC)
_ids = itertools.count(1)


def _capture(s, source: str, url: str, *, warc: str = "a.warc.gz", article: str | None = "ok") -> int:
    source_id = catalog.ensure_source(s, source, "origin").id
    n = next(_ids)
    capture = catalog.add_capture(
        s, source_id=source_id, url=url, timestamp=T0 + timedelta(minutes=n), status=200, mime="text/html",
        warc_file=warc, warc_offset=n, warc_length=100 * n, record_id=f"<urn:uuid:{n}>", payload_digest=f"sha1:{n}",
    )
    if article is not None:
        catalog.add_article(s, capture_id=capture.id, url=url, text="text", status=article)
    return capture.id


def _kept_and_counted(s) -> tuple[set[tuple[int, ...]], set[tuple[int, ...]]]:
    """The kept counts (a source with nothing left: none) and those counted from scratch."""
    kept = {tuple(row) for row in s.execute(select(SourceCount.source_id, SourceCount.captures, SourceCount.bytes,
                                                   SourceCount.articles, SourceCount.failed, SourceCount.pages))}
    return {row for row in kept if any(row[1:])}, {tuple(row) for row in s.execute(sourcecounts.counted())}


def test_counts_kept_as_captures_and_articles_come_and_go(database: Database) -> None:
    """A page captured twice (one page, two articles), a revisit (no article), a failed extraction,
    a URL variant, then rows removed: one article, one capture whose page has another, a whole WARC
    file at once (``doctor``'s removal of a lost file, articles going by the cascade)."""
    with database.session() as s, s.begin():
        first = _capture(s, "courier", "http://courier.example/a")
        _capture(s, "courier", "http://courier.example/a", warc="b.warc.gz")
        _capture(s, "courier", "http://courier.example/a?utm_source=x", warc="b.warc.gz")
        _capture(s, "courier", "http://courier.example/b", article=None)
        failed = _capture(s, "courier", "http://courier.example/c", article="failed")
        _capture(s, "digest", "http://courier.example/a", warc="b.warc.gz")
        kept, counted = _kept_and_counted(s)
        assert kept == counted
        courier = catalog.ensure_source(s, "courier", "origin").id
        assert s.get(SourceCount, courier).pages == 2 and s.get(SourceCount, courier).captures == 5  # type: ignore[union-attr]

        s.execute(delete(Article).where(Article.capture_id == failed))
        assert _kept_and_counted(s)[0] == _kept_and_counted(s)[1]
        s.execute(delete(Capture).where(Capture.id == first))  # its page has another capture: still a page
        kept, counted = _kept_and_counted(s)
        assert kept == counted and s.get(SourceCount, courier).pages == 2  # type: ignore[union-attr]
        s.execute(delete(Capture).where(Capture.warc_file == "b.warc.gz"))
        kept, counted = _kept_and_counted(s)
        assert kept == counted and s.get(SourceCount, courier).pages == 0  # type: ignore[union-attr]


def test_summaries_read_the_kept_counts(database: Database) -> None:
    with database.session() as s, s.begin():
        _capture(s, "courier", "http://courier.example/a")
        _capture(s, "courier", "http://courier.example/a")
        _capture(s, "courier", "http://courier.example/b", article="failed")
        [summary] = catalog.source_summaries(s)
        stored = sum(s.scalars(select(Capture.warc_length)))
    assert (summary.captures, summary.articles, summary.pages, summary.failed, summary.bytes) == (3, 2, 1, 1, stored)


def test_an_article_stored_looks_up_its_urls_captures_by_key_not_by_source(tmp_path) -> None:
    """The trigger asks SQLite (no statistics) for the source's other captures of the URL: through
    the source's index it read every capture of the source for each article, and a crawl into a
    large archive slowed with it (274 articles a second at 20,000, 81 at 100,000)."""
    from archive.db.engine import sqlite_url

    database = Database(sqlite_url(tmp_path))
    try:
        with database.connect() as conn:  # the schema at head
            triggered = next(sql for (sql,) in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'source_counts_article_insert'"))
            update = triggered[triggered.index("UPDATE"):triggered.rindex(";")]
            for column, value in (("status", "'ok'"), ("id", "1"), ("capture_id", "1")):
                update = update.replace(f"NEW.{column}", value)
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {update}"))
    finally:
        database.dispose()
    assert "SEARCH c USING INDEX ix_captures_url_key_timestamp (url_key=?)" in plan, plan
