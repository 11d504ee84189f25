"""The database as researchers read it with SQL tools: the ``pages`` view (one row per page), and
times that state their zone, on both backends and on archives migrated from before."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from archive.db import fulltext, pages
from archive.db.embedded import sqlite_url as data_dir_url
from archive.db.engine import MIGRATIONS_DIR, _alembic_config, create_engine_for, upgrade
from archive.db.models import Article, Base, Capture, Source, Syndication, UTCDateTime
from archive.db.urls import url_key
from archive.syndication import chains

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy.engine import Engine

T0 = datetime(2016, 11, 1, 12, tzinfo=UTC)
_ids = count(1)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def page(s: Session, source: Source, url: str, at: datetime, *, status: str = "ok") -> Article:
    """One capture of ``url`` and its article."""
    n = next(_ids)
    capture = Capture(
        source_id=source.id, url=url, url_key=url_key(url), timestamp=at, status=200, mime="text/html",
        warc_file="a.warc.gz", warc_offset=n * 100, warc_length=100, record_id=f"<urn:uuid:{n}>",
        payload_digest=f"sha1:{n}",
    )
    s.add(capture)
    s.flush()
    article = Article(capture_id=capture.id, url=url, title=url, text="words", status=status,
                      published="2016-11-01T07:00:00-05:00")
    s.add(article)
    s.flush()
    return article


def place(s: Session, article: Article, cluster: Article, relation: str, origin: Article | None,
          parent: Article | None = None) -> None:
    s.add(Syndication(article_id=article.id, cluster_id=cluster.id, relation=relation,
                      origin_id=origin.id if origin else None, parent_id=parent.id if parent else None,
                      similarity=None if relation == "origin" else 0.9))


def view_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    """The view's rows by URL; each URL once."""
    with engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(text("SELECT * FROM pages")).mappings()]
    by_url = {row["url"]: row for row in rows}
    assert len(by_url) == len(rows)
    return by_url


def test_the_pages_view_has_each_page_once_with_its_latest_placed_article(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        origin_site, copy_site = Source(name="origin", kind="origin"), Source(name="copycat", kind="repost")
        s.add_all([origin_site, copy_site])
        s.flush()
        first = page(s, origin_site, "http://origin.test/a", T0)
        again = page(s, origin_site, "http://origin.test/a", T0 + timedelta(days=1))  # crawled twice
        copy = page(s, copy_site, "http://copycat.test/a", T0 + timedelta(hours=1))
        excerpt = page(s, copy_site, "http://copycat.test/short", T0 + timedelta(hours=2))
        lone = page(s, copy_site, "http://copycat.test/lone", T0 + timedelta(hours=3))  # never placed
        failed = page(s, copy_site, "http://copycat.test/lone", T0 + timedelta(hours=4), status="failed")
        for article, relation in ((first, "origin"), (again, "origin"), (copy, "copy")):
            place(s, article, first, relation, again, parent=None if relation == "origin" else again)
        place(s, excerpt, excerpt, "excerpt", excerpt, parent=again)
        ids = {"first": first.id, "again": again.id, "lone": lone.id, "failed": failed.id}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar() == 6
    rows = view_rows(engine)
    assert set(rows) == {"http://origin.test/a", "http://copycat.test/a", "http://copycat.test/short",
                         "http://copycat.test/lone"}
    origin, copied, cut, alone = (rows[url] for url in ("http://origin.test/a", "http://copycat.test/a",
                                                        "http://copycat.test/short", "http://copycat.test/lone"))
    assert (origin["article_id"], origin["relation"], origin["site"], origin["site_kind"]) == (
        ids["again"], "origin", "origin", "origin")
    assert str(origin["first_captured"]).startswith("2016-11-01 12:00:00")  # the first capture of the page
    assert str(origin["captured"]).startswith("2016-11-02 12:00:00")
    assert (copied["relation"], copied["cluster_id"], copied["origin_id"], copied["origin_url"], copied["parent_url"],
            copied["similarity"]) == ("copy", ids["first"], ids["again"], "http://origin.test/a",
                                      "http://origin.test/a", 0.9)
    assert (cut["relation"], cut["parent_url"]) == ("excerpt", "http://origin.test/a")
    # Never placed: its own cluster and origin; the failed extraction after it is not the page's article.
    assert (alone["article_id"], alone["relation"], alone["cluster_id"], alone["origin_id"], alone["origin_url"]) == (
        ids["lone"], "unique", ids["lone"], ids["lone"], "http://copycat.test/lone")
    assert str(alone["published_date"]) == "2016-11-01" and alone["published"] == "2016-11-01T07:00:00-05:00"
    assert str(alone["captured"]).endswith("+00:00")  # SQLite's text and PostgreSQL's timestamptz alike


def test_the_exports_read_the_view(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        source = Source(name="origin", kind="origin")
        s.add(source)
        s.flush()
        for hours in (0, 1):
            page(s, source, "http://origin.test/a", T0 + timedelta(hours=hours))
    with engine.connect() as conn:
        rows = conn.execute(pages.page_select()).mappings().all()
    with Session(engine) as s:
        [exported] = chains.article_rows(s)
    [row] = rows
    assert exported["captured"] == row["captured"] == T0 + timedelta(hours=1)
    assert exported["first_captured"] == T0 and exported["relation"] == "unique"


def _views(engine: Engine) -> list[str]:
    """The archive's views, less the full-text index's own (SQLite's content view of the index)."""
    return [name for name in inspect(engine).get_view_names() if not fulltext.is_index_table(name)]


def test_a_migrated_archive_has_the_view_a_new_one_has(db_url: str, request: pytest.FixtureRequest,
                                                      tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        other = data_dir_url(tmp_path / "other")
    else:
        make: Callable[[], str] = request.getfixturevalue("postgres_url_factory")
        other = make()
    migrated, created = create_engine_for(db_url), create_engine_for(other)
    try:
        upgrade(migrated, "0009")
        upgrade(migrated)
        upgrade(created)
        views = [(_views(engine), [(c["name"], str(c["type"])) for c in
                                                     inspect(engine).get_columns("pages")])
                 for engine in (migrated, created)]
        assert views[0] == views[1] and views[0][0] == ["pages"]
        assert [name for name, _ in views[0][1]][:3] == ["article_id", "url_key", "url"]
        with migrated.begin() as conn:
            command.downgrade(_alembic_config(conn), "0009")
        assert _views(migrated) == []
        assert "ix_syndication_origin_id" not in {ix["name"] for ix in inspect(migrated).get_indexes("syndication")}
    finally:
        migrated.dispose()
        created.dispose()


def test_sqlite_times_say_utc_and_older_ones_are_converted(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        upgrade(engine, "0010")
        with engine.begin() as conn:  # as the archive stored them before: the UTC wall time alone
            conn.execute(text("INSERT INTO sources (id, name, kind, created_at) VALUES "
                              "(1, 'old', 'origin', '2016-11-01 15:22:00.000000')"))
        upgrade(engine)
        with Session(engine) as s, s.begin():
            s.add(Source(name="new", kind="origin", created_at=datetime(2016, 11, 1, 10, 30,
                                                                       tzinfo=timezone(timedelta(hours=-5)))))
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT name, created_at, datetime(created_at) FROM sources ORDER BY id")).all()
        assert stored == [("old", "2016-11-01 15:22:00.000000+00:00", "2016-11-01 15:22:00"),
                          ("new", "2016-11-01 15:30:00.000000+00:00", "2016-11-01 15:30:00")]
        with Session(engine) as s:
            assert s.scalars(select(Source.created_at).order_by(Source.id)).all() == [
                datetime(2016, 11, 1, 15, 22, tzinfo=UTC), datetime(2016, 11, 1, 15, 30, tzinfo=UTC)]
            later = s.scalars(select(Source.name).where(Source.created_at > datetime(2016, 11, 1, 15, 22, tzinfo=UTC)))
            assert later.all() == ["new"]
    finally:
        engine.dispose()


def test_every_time_column_is_migrated_on_sqlite_and_timestamptz_on_postgres(engine: Engine) -> None:
    """Migration 0011's list of time columns is the models' (one missed there would keep its old values)."""
    spec = importlib.util.spec_from_file_location("times", MIGRATIONS_DIR / "versions" / "0011_sqlite_times_in_utc.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    modelled = {(table.name, column.name) for table in Base.metadata.tables.values() for column in table.columns
                if isinstance(column.type, UTCDateTime)}
    # Tables made later store +00:00 from the start.
    after_0011 = {("revisions", "seen_at"), ("rechecks", "first_at"), ("rechecks", "next_at")}
    assert modelled - after_0011 == {(table, column) for table, columns in migration._TIMES.items() for column in columns}
    if engine.dialect.name == "postgresql":
        found = inspect(engine)
        reflected = {(table, column["name"]): column["type"] for table in {table for table, _ in modelled}
                     for column in found.get_columns(table)}
        assert all(reflected[key].timezone for key in modelled)
