"""SURT URL keys: the same keys as pywb's, and migration 0005 rewriting the stored ones."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from archive.db.engine import _alembic_config, create_engine_for, upgrade
from archive.db.urls import url_key


def test_keys_are_pywb_surts_shared_by_url_variants() -> None:
    assert url_key("http://example.com/path/file.html") == "com,example)/path/file.html"
    variants = [
        "https://www.Example.com:443/News/Story/?b=2&a=1#comments",
        "http://example.com/news/story?a=1&b=2",
        " HTTP://EXAMPLE.COM:80/news/story/?a=1&b=2 ",
    ]
    assert {url_key(url) for url in variants} == {"com,example)/news/story?a=1&b=2"}
    assert url_key("http://127.0.0.3:8480/2016/11/01/x/") == "3,0,0,127:8480)/2016/11/01/x"
    assert url_key("http://example.com/news/other") != url_key("http://example.com/news/story")


OLD_ROWS = [
    ("https://origin.example/post?b=2&a=1", "https://origin.example/post?a=1&b=2"),
    ("http://www.origin.example/Post/", "http://www.origin.example/Post/"),
]


def test_migration_0005_rewrites_stored_keys_and_back(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0003")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sources (id, name, kind, created_at) VALUES (1, 's', 'origin', :t)"),
                         {"t": "2016-11-01 00:00:00"})
            conn.execute(text("INSERT INTO feeds (id, source_id, url, kind) VALUES (1, 1, 'http://f/', 'rss')"))
            for i, (url, old_key) in enumerate(OLD_ROWS, start=1):
                conn.execute(
                    text(
                        "INSERT INTO captures (id, url, url_key, timestamp, status, mime, warc_file, warc_offset,"
                        " warc_length, record_id, payload_digest) VALUES (:i, :u, :k, :t, 200, 'text/html', 'f',"
                        " 0, 1, :r, 'sha1:X')"
                    ),
                    {"i": i, "u": url, "k": old_key, "t": "2016-11-01 00:00:00", "r": f"<urn:{i}>"},
                )
                conn.execute(
                    text("INSERT INTO feed_entries (id, feed_id, url, url_key, first_seen_at)"
                         " VALUES (:i, 1, :u, :k, :t)"),
                    {"i": i, "u": url, "k": old_key, "t": "2016-11-01 00:00:00"},
                )
        upgrade(engine)
        expected = ["example,origin)/post?a=1&b=2", "example,origin)/post"]
        with engine.connect() as conn:
            for table in ("captures", "feed_entries"):
                keys = conn.execute(text(f"SELECT url_key FROM {table} ORDER BY id")).scalars().all()
                assert keys == expected, table
            if engine.dialect.name == "postgresql":
                # byte order, as CDX key ranges need: ')' sorts before '*' and before letters
                assert conn.execute(text(
                    "SELECT collation_name FROM information_schema.columns"
                    " WHERE table_name = 'captures' AND column_name = 'url_key'"
                    " AND table_schema = current_schema()")).scalar() == "C"
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0003")
        with engine.connect() as conn:
            keys = conn.execute(text("SELECT url_key FROM captures ORDER BY id")).scalars().all()
        assert keys == [old for _, old in OLD_ROWS]
    finally:
        engine.dispose()
