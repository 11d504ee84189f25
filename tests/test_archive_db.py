"""The metadata database: migrations, engine setup and every catalog query, on both backends."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

import archive.syndication.neardup  # noqa: F401  (its tables are part of Base.metadata and of the migrations)
from archive.db import catalog, fulltext
from archive.db.engine import (
    MIGRATIONS_DIR,
    Database,
    create_engine_for,
    current_revision,
    head_revision,
    is_current,
    sqlite_url,
    upgrade,
)
from archive.db.models import Base, Capture, FeedEntry, Source
from archive.db.urls import url_key
from archive.errors import NotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
TABLES = {
    "sources",
    "crawls",
    "feeds",
    "feed_entries",
    "captures",
    "articles",
    "minhash_bands",
    "article_fingerprints",
    "article_links",
    "article_citations",
    "site_lines",
    "site_names",
    "syndication",
    "edit_summaries",
    "revisions",
    "rechecks",
    "page_facts",
    "tallies",
    "source_counts",
    "feed_polling",
    "feed_poll_outcomes",
    "leases",
    "schedule_runs",
    "alembic_version",
}
T0 = datetime(2016, 11, 1, 12, 0, tzinfo=UTC)

_UPGRADE_WHEN_TOLD = """
import pathlib, sys, time
from archive.db.engine import create_engine_for, upgrade
engine = create_engine_for(sys.argv[1])
go = pathlib.Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
upgrade(engine)
"""


def _capture(source: Source | None, url: str, at: datetime, **overrides: Any) -> dict[str, Any]:
    """Fields of a plausible capture; ``record_id`` is unique per URL and time."""
    fields: dict[str, Any] = {
        "source_id": source.id if source else None,
        "url": url,
        "timestamp": at,
        "status": 200,
        "mime": "text/html",
        "warc_file": "syndicrawl-20161101120000-00000.warc.gz",
        "warc_offset": 0,
        "warc_length": 1000,
        "record_id": f"<urn:uuid:{url}@{at.isoformat()}>",
        "payload_digest": "sha1:AAAA",
    }
    fields.update(overrides)
    return fields


def _assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# --- migrations and engines ---------------------------------------------------------------


def test_upgrade_creates_schema_and_is_idempotent(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == HEAD
        upgrade(engine)
        assert current_revision(engine) == HEAD
        tables = set(inspect(engine).get_table_names())
        assert {table for table in tables if not fulltext.is_index_table(table)} == TABLES
        assert "search_articles" in tables
    finally:
        engine.dispose()


def test_postgres_tables_and_version_table_land_in_the_urls_schema(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            assert schema.startswith("test_")
            rows = conn.execute(
                text(
                    "SELECT table_schema, table_name FROM information_schema.tables"
                    " WHERE table_name = ANY(:t)"
                ),
                {"t": sorted(TABLES)},
            ).all()
        assert {(s, t) for s, t in rows if s == schema} == {(schema, t) for t in TABLES}
    finally:
        engine.dispose()


def test_two_processes_upgrading_a_fresh_database_both_succeed(db_url: str, tmp_path: Path) -> None:
    # Both processes connect, then wait for the same signal: their upgrades start together,
    # as when the scheduler and a CLI command open a new data directory at the same time.
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE_WHEN_TOLD, db_url, str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        go.touch()
        errors = [process.communicate(timeout=60)[1] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [process.returncode for process in processes] == [0, 0], errors
    engine = create_engine_for(db_url)
    try:
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_threads_upgrading_different_databases_do_not_collide(db_url: str, tmp_path: Path) -> None:
    # Alembic's context is process-global: without a lock, one upgrade runs the other's script.
    engines = [create_engine_for(db_url), create_engine_for(sqlite_url(tmp_path / "other"))]
    barrier = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def run(engine: Engine) -> None:
        barrier.wait()
        try:
            upgrade(engine)
        except Exception as exc:  # collected here, asserted on in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert failures == []
        assert [current_revision(engine) for engine in engines] == [HEAD, HEAD]
    finally:
        for engine in engines:
            engine.dispose()


def test_models_match_migrations(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"compare_type": True, "compare_server_default": True, "include_name": fulltext.include_name},
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


@pytest.fixture
def other_db_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second empty database on ``db_url``'s backend."""
    if db_url.startswith("sqlite"):
        return sqlite_url(tmp_path / "other")
    make: Callable[[], str] = request.getfixturevalue("postgres_url_factory")
    return make()


def schema_of(url: str) -> dict[str, dict[str, Any]]:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    engine = create_engine_for(url)
    try:
        found = inspect(engine)
        return {
            table: {
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in found.get_columns(table)
                ),
                "primary key": found.get_pk_constraint(table),
                "foreign keys": sorted(map(repr, found.get_foreign_keys(table))),
                "indexes": sorted(map(repr, found.get_indexes(table))),
                "unique": sorted(map(repr, found.get_unique_constraints(table))),
                "checks": sorted(map(repr, found.get_check_constraints(table))),
            }
            for table in found.get_table_names()
        }
    finally:
        engine.dispose()


def test_a_new_database_is_created_with_the_schema_the_migrations_build(db_url: str, other_db_url: str) -> None:
    migrated = create_engine_for(db_url)
    created = create_engine_for(other_db_url)
    try:
        upgrade(migrated, "0001")
        upgrade(migrated)  # not empty: Alembic replays the other migrations
        upgrade(created)  # empty: the head schema in one step
        assert current_revision(created) == current_revision(migrated) == HEAD
    finally:
        migrated.dispose()
        created.dispose()
    schema = schema_of(other_db_url)
    assert {table for table in schema if not fulltext.is_index_table(table)} == TABLES | {"alembic_version"}
    assert "search_articles" in schema
    assert schema == schema_of(db_url)


def test_sqlite_engine_creates_directory_and_sets_pragmas(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "nested" / "data")
    assert url == f"sqlite:///{tmp_path}/nested/data/syndicrawl.sqlite3"
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous", "mmap_size")
            }
        # synchronous: 1 is NORMAL
        assert pragmas == {
            "journal_mode": "wal", "busy_timeout": 10000, "foreign_keys": 1, "synchronous": 1, "mmap_size": 2**30
        }
        assert (tmp_path / "nested" / "data").is_dir()
    finally:
        engine.dispose()


def test_head_revision_without_alembic_agrees_with_alembic(db_url: str) -> None:
    """Each migration file is named after its revision, so the file names give the head."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_"), script.path
    assert head_revision() == scripts.get_current_head() == HEAD
    engine = create_engine_for(db_url)
    try:
        assert not is_current(engine)  # never upgraded: no alembic_version table
        upgrade(engine, "0004")
        assert not is_current(engine)
        upgrade(engine)
        assert is_current(engine)
    finally:
        engine.dispose()


def test_upgrade_gives_pages_judged_no_article_their_own_status(db_url: str) -> None:
    """Before 0018 a listing was stored as a failed extraction (#22): the upgrade moves it, by its
    error's wording, out of the source's failed count; a real failure stays failed."""
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0017")
        with Session(engine) as s, s.begin():
            source = catalog.ensure_source(s, "courier", "origin")
            for n, error in enumerate(["https://news.test/world/: not an article: a listing (12 teasers hold 90% of its text)",
                                       "https://news.test/empty/: no main text found"]):
                capture = catalog.add_capture(s, **_capture(source, f"https://news.test/{n}/", T0))
                catalog.add_article(s, capture_id=capture.id, url=capture.url, text="", status="failed", error=error)
        upgrade(engine)
        with Session(engine) as s:
            statuses = sorted(s.execute(text("SELECT status FROM articles")).scalars())
            assert statuses == ["failed", "not_article"]
            assert s.execute(text("SELECT articles, failed FROM source_counts")).one() == (0, 1)
            assert [summary.failed for summary in catalog.source_summaries(s)] == [1]
    finally:
        engine.dispose()


def test_database_upgrades_on_first_session_only_when_asked(db_url: str) -> None:
    manual = Database(db_url, auto_upgrade=False)
    try:
        with manual.session() as s:
            s.execute(text("SELECT 1"))
        assert current_revision(manual.engine) is None
    finally:
        manual.dispose()
    auto = Database(db_url)
    try:
        with auto.session() as s, s.begin():
            source = catalog.ensure_source(s, "origin-blog", "origin")
        # expire_on_commit=False: still readable after the transaction closed
        assert source.name == "origin-blog"
        assert current_revision(auto.engine) == HEAD
    finally:
        auto.dispose()


def test_two_postgres_schemas_never_see_each_others_rows(postgres_url_factory: Callable[[], str]) -> None:
    first, second = Database(postgres_url_factory()), Database(postgres_url_factory())
    try:
        with first.session() as s, s.begin():
            catalog.ensure_source(s, "only-in-first", "origin")
        with second.session() as s, s.begin():
            catalog.ensure_source(s, "only-in-second", "repost")
        with first.session() as s:
            assert s.scalars(select(Source.name)).all() == ["only-in-first"]
        with second.session() as s:
            assert s.scalars(select(Source.name)).all() == ["only-in-second"]
    finally:
        first.dispose()
        second.dispose()


# --- catalog ------------------------------------------------------------------------------


def test_ensure_source_creates_once_and_updates_kind(database: Database) -> None:
    with database.session() as s, s.begin():
        created = catalog.ensure_source(s, "reposts-r-us", "unknown")
    with database.session() as s, s.begin():
        updated = catalog.ensure_source(s, "reposts-r-us", "repost")
    assert updated.id == created.id
    assert (created.kind, updated.kind) == ("unknown", "repost")
    with database.session() as s:
        stored = s.scalars(select(Source)).one()
    assert (stored.name, stored.kind) == ("reposts-r-us", "repost")
    _assert_utc(stored.created_at)
    assert stored.created_at == created.created_at


def test_crawl_start_and_finish(database: Database) -> None:
    with database.session() as s, s.begin():
        source = catalog.ensure_source(s, "origin-blog", "origin")
        crawl = catalog.start_crawl(s, source)
    assert (crawl.status, crawl.finished_at, crawl.pages, crawl.errors) == ("running", None, 0, 0)
    with database.session() as s, s.begin():
        catalog.finish_crawl(
            s, crawl.id, status="finished", pages=12, articles=10, bytes=123_456_789_012, errors=2
        )
    with database.session() as s:
        done = s.get(type(crawl), crawl.id)
        assert done is not None
        assert (done.status, done.pages, done.articles, done.bytes, done.errors) == (
            "finished",
            12,
            10,
            123_456_789_012,
            2,
        )
        _assert_utc(done.started_at)
        _assert_utc(done.finished_at)
        assert done.finished_at is not None and done.finished_at >= done.started_at
    with database.session() as s, s.begin():
        with pytest.raises(NotFoundError, match="crawl 999999"):
            catalog.finish_crawl(s, 999_999, status="failed", pages=0, articles=0, bytes=0, errors=1)
        with pytest.raises(ValueError, match="'running'"):
            catalog.finish_crawl(s, crawl.id, status="running", pages=0, articles=0, bytes=0, errors=0)


def test_ensure_feed_tracks_fetches_without_losing_what_it_knew(database: Database) -> None:
    url = "https://origin.example/feed.xml"
    with database.session() as s, s.begin():
        origin = catalog.ensure_source(s, "origin-blog", "origin")
        repost = catalog.ensure_source(s, "reposts-r-us", "repost")
        first = catalog.ensure_feed(s, origin.id, url, "rss", "Origin Blog")
    with database.session() as s, s.begin():
        again = catalog.ensure_feed(s, origin.id, url, "unknown")
        other = catalog.ensure_feed(s, repost.id, url, "atom")
    assert again.id == first.id != other.id
    assert (again.kind, again.title) == ("rss", "Origin Blog")
    assert (other.kind, other.title) == ("atom", None)
    _assert_utc(first.last_fetched_at)
    _assert_utc(again.last_fetched_at)
    assert first.last_fetched_at is not None and again.last_fetched_at is not None
    assert again.last_fetched_at >= first.last_fetched_at
    with database.session() as s, s.begin():
        renamed = catalog.ensure_feed(s, origin.id, url, "atom", "Origin Blog (Atom)")
    assert (renamed.id, renamed.kind, renamed.title) == (first.id, "atom", "Origin Blog (Atom)")


def test_upsert_feed_entry_keeps_first_seen_and_known_fields(database: Database) -> None:
    url = "https://origin.example/2016/11/post?b=2&a=1"
    with database.session() as s, s.begin():
        source = catalog.ensure_source(s, "origin-blog", "origin")
        feed = catalog.ensure_feed(s, source.id, "https://origin.example/feed.xml", "rss")
        first = catalog.upsert_feed_entry(
            s,
            feed.id,
            url=url,
            entry_id="tag:origin.example,2016:1",
            title="Draft title",
            author="Ada",
            published="2016-11-01T09:00:00+00:00",
            updated=None,
        )
    with database.session() as s, s.begin():
        second = catalog.upsert_feed_entry(
            s,
            feed.id,
            url=url,
            entry_id="tag:origin.example,2016:1",
            title="Final title",
            author=None,
            published=None,
            updated="2016-11-02T10:00:00+00:00",
        )
    assert second.id == first.id
    _assert_utc(second.first_seen_at)
    assert second.first_seen_at == first.first_seen_at
    assert (second.title, second.author, second.published, second.updated) == (
        "Final title",
        "Ada",
        "2016-11-01T09:00:00+00:00",
        "2016-11-02T10:00:00+00:00",
    )
    assert second.url_key == url_key(url) == "example,origin)/2016/11/post?a=1&b=2"
    with database.session() as s:
        assert s.scalar(select(FeedEntry.title)) == "Final title"
        evidence = catalog.feed_evidence(s, "HTTPS://ORIGIN.example:443/2016/11/post?a=1&b=2#comments")
        assert [(e.id, e.feed_id, e.published) for e in evidence] == [
            (first.id, feed.id, "2016-11-01T09:00:00+00:00")
        ]
        assert catalog.feed_evidence(s, "https://origin.example/2016/11/other") == []


def test_find_original_captures_ignores_revisits_and_picks_earliest(database: Database) -> None:
    digest = "sha1:2FRNSBV4DWMQJOWEQGS7PCLBFFRHUFMR"
    page_a, page_b, page_c = (f"https://origin.example/{name}" for name in "abc")
    with database.session() as s, s.begin():
        source = catalog.ensure_source(s, "origin-blog", "origin")
        crawl = catalog.start_crawl(s, source)
        # Inserted out of time order so that id order and time order disagree.
        later = catalog.add_capture(s, **_capture(source, page_b, T0 + timedelta(days=1), payload_digest=digest))
        earliest = catalog.add_capture(s, **_capture(source, page_a, T0, payload_digest=digest, crawl_id=crawl.id))
        # A revisit is never an original, even when it is the oldest row with the digest.
        day_before = T0 - timedelta(days=1)
        catalog.add_capture(s, **_capture(source, page_a, day_before, payload_digest=digest, revisit_of=later.id))
        other = catalog.add_capture(s, **_capture(source, page_c, day_before, payload_digest="sha1:B"))
    with database.session() as s:
        originals = catalog.find_original_captures(s, [digest, "sha1:B", "sha1:NOPE"])
        assert originals.keys() == {digest, "sha1:B"}
        found = originals[digest]
        assert (found.id, found.url, found.crawl_id, found.revisit_of) == (earliest.id, page_a, crawl.id, None)
        _assert_utc(found.timestamp)
        assert found.timestamp == T0
        assert originals["sha1:B"].id == other.id
        assert catalog.find_original_captures(s, ["sha1:NOPE"]) == {}


def test_captures_for_url_matches_variants_oldest_first(database: Database) -> None:
    variants = [
        "https://origin.example/post?id=7&lang=en",
        "https://ORIGIN.example/post?lang=en&id=7#comments",
        "https://origin.example:443/post?lang=en&id=7",
    ]
    with database.session() as s, s.begin():
        source = catalog.ensure_source(s, "origin-blog", "origin")
        ids = [
            catalog.add_capture(s, **_capture(source, url, T0 - timedelta(hours=i))).id
            for i, url in enumerate(variants)
        ]
        catalog.add_capture(s, **_capture(source, "https://origin.example/post?id=8&lang=en", T0))
        # SURT keys, like pywb's, leave the scheme out: the http page is the same page.
        ids.insert(0, catalog.add_capture(s, **_capture(source, "http://origin.example/post?id=7&lang=en", T0)).id)
        variants.insert(0, "http://origin.example/post?id=7&lang=en")
    with database.session() as s:
        found = catalog.captures_for_url(s, "https://origin.example/post?lang=en&id=7#top")
        assert [c.id for c in found] == list(reversed(ids))
        assert [c.url for c in found] == list(reversed(variants))
        assert {c.url_key for c in found} == {"example,origin)/post?id=7&lang=en"}
        assert catalog.captures_for_url(s, "https://origin.example/nothing") == []


def test_latest_article_by_url_key_or_canonical_url(database: Database) -> None:
    with database.session() as s, s.begin():
        source = catalog.ensure_source(s, "reposts-r-us", "repost")
        old = catalog.add_capture(s, **_capture(source, "https://reposts.example/p/1", T0))
        new = catalog.add_capture(
            s, **_capture(source, "https://reposts.example/p/1?", T0 + timedelta(days=3))
        )
        amp = catalog.add_capture(
            s, **_capture(source, "https://reposts.example/amp/1", T0 + timedelta(days=1))
        )
        catalog.add_article(s, capture_id=old.id, url=old.url, title="Old", text="old text", text_hash="h1")
        catalog.add_article(
            s, capture_id=new.id, url=new.url, title=None, text="", status="failed", error="no article text"
        )
        catalog.add_article(
            s,
            capture_id=amp.id,
            url=amp.url,
            canonical_url="https://reposts.example/canonical/1",
            title="Amp",
            text="amp text",
            text_hash="h2",
            published="2016-11-01",
            published_source="page",
        )
    with database.session() as s:
        latest = catalog.latest_article(s, "https://reposts.example/p/1#x")
        assert latest is not None
        assert (latest.capture_id, latest.status, latest.error) == (new.id, "failed", "no article text")
        _assert_utc(latest.extracted_at)
        by_canonical = catalog.latest_article(s, "https://reposts.example/canonical/1")
        assert by_canonical is not None
        assert (by_canonical.capture_id, by_canonical.title, by_canonical.published_source) == (
            amp.id,
            "Amp",
            "page",
        )
        assert catalog.latest_article(s, "https://reposts.example/p/2") is None
    # loaded with the article: readable once the session is closed
    assert (latest.capture.id, latest.capture.timestamp) == (new.id, T0 + timedelta(days=3))
    assert by_canonical.capture.warc_offset == 0


def test_source_summaries_count_per_source(database: Database) -> None:
    with database.session() as s, s.begin():
        origin = catalog.ensure_source(s, "origin-blog", "origin")
        repost = catalog.ensure_source(s, "reposts-r-us", "repost")
        catalog.ensure_source(s, "never-crawled", "unknown")
        first = catalog.start_crawl(s, origin)
        catalog.finish_crawl(s, first.id, status="failed", pages=1, articles=0, bytes=10, errors=1)
        second = catalog.start_crawl(s, origin)
        catalog.finish_crawl(s, second.id, status="finished", pages=3, articles=2, bytes=3000, errors=0)
        catalog.start_crawl(s, repost)
        for i in range(3):
            capture = catalog.add_capture(
                s, **_capture(origin, f"https://origin.example/{i}", T0, warc_length=4_000_000_000 + i)
            )
            catalog.add_article(
                s,
                capture_id=capture.id,
                url=capture.url,
                text="" if i == 2 else "text",
                status="failed" if i == 2 else "ok",
            )
        catalog.add_capture(s, **_capture(repost, "https://reposts.example/1", T0, warc_length=500))
        catalog.add_capture(s, **_capture(None, "https://elsewhere.example/", T0, warc_length=7))
        for feed_url in ("https://origin.example/feed.xml", "https://origin.example/sitemap.xml"):
            catalog.ensure_feed(s, origin.id, feed_url, "rss")
    with database.session() as s:
        summaries = {summary.name: summary for summary in catalog.source_summaries(s)}
    assert list(summaries) == ["never-crawled", "origin-blog", "reposts-r-us"]
    o, r, n = summaries["origin-blog"], summaries["reposts-r-us"], summaries["never-crawled"]
    assert (o.kind, o.captures, o.articles, o.failed, o.bytes, o.feeds) == (
        "origin",
        3,
        2,
        1,
        12_000_000_003,
        2,
    )
    assert o.last_crawl_status == "finished"
    _assert_utc(o.last_crawl_started)
    _assert_utc(o.last_crawl_finished)
    assert (r.kind, r.captures, r.articles, r.failed, r.bytes, r.feeds) == ("repost", 1, 0, 0, 500, 0)
    assert (r.last_crawl_status, r.last_crawl_finished) == ("running", None)
    _assert_utc(r.last_crawl_started)
    assert (n.captures, n.articles, n.bytes, n.feeds) == (0, 0, 0, 0)
    assert (n.last_crawl_started, n.last_crawl_finished, n.last_crawl_status) == (None, None, None)


def test_timestamps_are_stored_as_the_same_instant_and_read_back_as_utc(database: Database) -> None:
    paris = datetime(2016, 11, 1, 13, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
    with database.session() as s, s.begin():
        capture = catalog.add_capture(s, **_capture(None, "https://origin.example/tz", paris))
    with database.session() as s:
        stored = s.scalars(select(Capture).where(Capture.id == capture.id)).one()
        assert stored.timestamp == paris
        assert stored.timestamp.tzinfo == UTC
        assert stored.timestamp.hour == 12
        # comparisons run in the database must agree with the instant too
        same_instant_in_utc = datetime(2016, 11, 1, 12, 30, 15, 123456, tzinfo=UTC)
        assert s.scalar(select(Capture.id).where(Capture.timestamp == same_instant_in_utc)) == capture.id


def test_naive_datetimes_are_refused(database: Database) -> None:
    naive = datetime(2016, 11, 1, 12)
    with database.session() as s, s.begin():
        with pytest.raises(StatementError, match="naive datetime"):
            catalog.add_capture(s, **_capture(None, "https://origin.example/naive", naive))

