"""pywb's CDX query semantics over the captures table, and the nearest-capture lookup, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from archive.db import catalog
from archive.db.engine import Database
from archive.errors import NotFoundError, QueryError
from archive.lookup.cdx import CdxQuery, query, search_range
from archive.lookup.cdx_formats import lines
from archive.lookup.snapshots import closest_capture

T0 = datetime(2016, 11, 1, 12, 0, tzinfo=UTC)
# url, hours after T0, status, mime, revisit of (index into this list)
ROWS: list[tuple[str, int, int, str, int | None]] = [
    ("http://example.com/", 0, 200, "text/html; charset=utf-8", None),
    ("http://example.com/a", 0, 200, "text/html", None),
    ("https://www.example.com/a", 24, 200, "text/html", 1),
    ("http://example.com/a", 48, 404, "text/plain", None),
    ("http://example.com/a/b", 1, 200, "application/rss+xml", None),
    ("http://example.com/ab", 2, 301, "", None),
    ("http://news.example.com/x", 3, 200, "text/html", None),
    ("http://example.org/", 4, 200, "text/html", None),
    ("http://example.community/", 5, 200, "text/html", None),
]


@pytest.fixture
def db(database: Database) -> Database:
    with database.session() as s, s.begin():
        source = catalog.ensure_source(s, "site", "origin")
        ids: list[int] = []
        for i, (url, hours, status, mime, revisit) in enumerate(ROWS):
            ids.append(catalog.add_capture(
                s, source_id=source.id, url=url, timestamp=T0 + timedelta(hours=hours), status=status, mime=mime,
                warc_file="site-00000.warc.gz", warc_offset=1000 * i, warc_length=900, record_id=f"<urn:{i}>",
                payload_digest=f"sha1:{'ABCDEFGHIJ'[i]}", revisit_of=ids[revisit] if revisit is not None else None,
            ).id)
    return database


def ask(db: Database, **params: Any) -> list[str]:
    """Run a query; each row as 'url timestamp' for short assertions."""
    q = CdxQuery.from_params({k: v if isinstance(v, list) else [str(v)] for k, v in params.items()})
    with db.session() as s:
        return [f"{row.fields['url']} {row.timestamp}" for row in query(s, q)]


def test_search_ranges_are_pywbs() -> None:
    # the examples of pywb's calc_search_range doctests
    url = "http://example.com/path/file.html"
    assert search_range(url, "exact") == ("com,example)/path/file.html", "com,example)/path/file.html!")
    assert search_range(url, "prefix") == ("com,example)/path/file.html", "com,example)/path/file.htmm")
    assert search_range("http://example.com/path/", "prefix") == ("com,example)/path/", "com,example)/path0")
    assert search_range("http://example.com/path?", "prefix") == ("com,example)/path?", "com,example)/path@")
    assert search_range(url, "host") == ("com,example)/", "com,example*")
    assert search_range(url, "domain") == ("com,example)/", "com,example-")


def test_match_types(db: Database) -> None:
    assert ask(db, url="http://EXAMPLE.com/a#x") == [
        "http://example.com/a 20161101120000",
        "https://www.example.com/a 20161102120000",
        "http://example.com/a 20161103120000",
    ]
    assert [r.split()[0] for r in ask(db, url="http://example.com/a*")] == [
        "http://example.com/a", "https://www.example.com/a", "http://example.com/a", "http://example.com/a/b",
        "http://example.com/ab",
    ]
    assert [r.split()[0] for r in ask(db, url="http://example.com/a/", matchType="prefix")] == [
        "http://example.com/a/b"]
    host = [r.split()[0] for r in ask(db, url="http://example.com/", matchType="host")]
    assert len(host) == 6 and "http://news.example.com/x" not in host
    domain = [r.split()[0] for r in ask(db, url="*.example.com")]
    # the domain and its subdomains, in key order: never example.org or example.community
    assert domain == host + ["http://news.example.com/x"]


def test_time_range_reverse_and_limit(db: Database) -> None:
    assert ask(db, url="http://example.com/a", **{"from": "20161102"}) == [
        "https://www.example.com/a 20161102120000", "http://example.com/a 20161103120000"]
    assert ask(db, url="http://example.com/a", to="20161102") == [
        "http://example.com/a 20161101120000", "https://www.example.com/a 20161102120000"]
    assert ask(db, url="http://example.com/a", to="201611021159") == ["http://example.com/a 20161101120000"]
    assert ask(db, url="http://example.com/a", sort="reverse", limit=2) == [
        "http://example.com/a 20161103120000", "https://www.example.com/a 20161102120000"]
    # limit=0 is no row whatever the order (pywb: every row, but none with sort=reverse or closest)
    for order in ({}, {"sort": "reverse"}, {"closest": "20161102"}):
        assert ask(db, url="http://example.com/a", limit=0, **order) == []


def test_collapse_time_keeps_the_first_of_each_run_of_a_time_prefix_and_status(db: Database) -> None:
    """pywb's collapseTime: a client asking for one capture a day (8) or a year (4) of a page;
    in index order, before reversing or ranking, so every order answers the same rows."""
    a = "http://example.com/a"  # 1 Nov 200, 2 Nov 200 (the revisit), 3 Nov 404
    assert ask(db, url=a, collapseTime=8) == ask(db, url=a)
    assert ask(db, url=a, collapseTime=4) == ["http://example.com/a 20161101120000", "http://example.com/a 20161103120000"]
    assert ask(db, url=a, collapseTime=4, sort="reverse") == [
        "http://example.com/a 20161103120000", "http://example.com/a 20161101120000"]
    assert ask(db, url=a, collapseTime=4, closest="20161102120000") == [  # 24 hours either side: index order
        "http://example.com/a 20161101120000", "http://example.com/a 20161103120000"]
    assert ask(db, url=a, collapseTime=4, filter="!status:404", limit=5) == ["http://example.com/a 20161101120000"]
    # Runs are consecutive rows, across URLs as in pywb: /a's first capture shares / 's day and status.
    assert ask(db, url="http://example.com/*", collapseTime=8) == [
        "http://example.com/ 20161101120000", "https://www.example.com/a 20161102120000",
        "http://example.com/a 20161103120000", "http://example.com/a/b 20161101130000", "http://example.com/ab 20161101140000"]


def test_closest_nearest_first_earlier_on_ties(db: Database) -> None:
    assert ask(db, url="http://example.com/a", closest="20161102120000") == [
        "https://www.example.com/a 20161102120000",
        "http://example.com/a 20161101120000",
        "http://example.com/a 20161103120000",
    ]
    assert ask(db, url="http://example.com/a", closest="20161103010000", limit=1) == [
        "http://example.com/a 20161103120000"]
    assert ask(db, url="http://example.com/a", closest="20161102000000", limit=1) == [
        "http://example.com/a 20161101120000"]  # 12 hours either side: the earlier
    assert ask(db, url="http://example.com/*", closest="20161101130000", limit=2) == [
        "http://example.com/a/b 20161101130000", "http://example.com/ 20161101120000"]


def test_closest_capture_is_snapshots_nearest_earlier_on_ties(db: Database) -> None:
    with db.session() as s:
        def at(hours: float | None) -> tuple[str, datetime]:
            capture = closest_capture(s.connection(), "http://www.example.com/a", T0 + timedelta(hours=hours) if hours is not None else None)
            return capture.url, capture.timestamp
        assert at(None) == ("http://example.com/a", T0 + timedelta(hours=48))  # the latest
        assert at(12) == ("http://example.com/a", T0)  # 12 hours either side: the earlier
        assert at(13) == ("https://www.example.com/a", T0 + timedelta(hours=24))
        assert at(-100) == ("http://example.com/a", T0) and at(100)[1] == T0 + timedelta(hours=48)
        capture = closest_capture(s.connection(), "http://example.com/a", T0)
        with pytest.raises(NotFoundError, match="no capture in the archive"):
            closest_capture(s.connection(), "http://example.com/never")
    assert (capture.warc_offset, capture.record_id, capture.revisit_of) == (1000, "<urn:1>", None)  # after the session


def test_filters(db: Database) -> None:
    assert ask(db, url="http://example.com/a", filter="status:200") == [
        "http://example.com/a 20161101120000", "https://www.example.com/a 20161102120000"]
    assert ask(db, url="http://example.com/a", filter="!mime:warc/revisit") == [
        "http://example.com/a 20161101120000", "http://example.com/a 20161103120000"]
    assert ask(db, url="http://example.com/*", filter=["=mime:text/html", "~url:https?://example\\.com/.*"]) == [
        "http://example.com/ 20161101120000", "http://example.com/a 20161101120000"]
    assert ask(db, url="http://example.com/*", filter="application/rss") == ["http://example.com/a/b 20161101130000"]


def test_lines_and_json_rows(db: Database) -> None:
    with db.session() as s:
        rows = list(query(s, CdxQuery.from_params({"url": ["http://example.com/a"]})))
        redirect = next(query(s, CdxQuery.from_params({"url": ["http://example.com/ab"]})))
    assert rows[1].line == (
        'com,example)/a 20161102120000 {"url": "https://www.example.com/a", "mime": "warc/revisit", "status": "200",'
        ' "digest": "sha1:C", "length": "900", "offset": "2000", "filename": "site-00000.warc.gz"}'
    )
    assert "mime" not in redirect.fields  # no Content-Type, no mime: as cdxj-indexer
    assert answer(db, url="http://example.com/", output="json", fl="urlkey,s,m") == [
        '{"urlkey": "com,example)/", "status": "200", "mime": "text/html"}\n']
    assert answer(db, url="http://example.com/", fl="url,s") == [
        'com,example)/ 20161101120000 {"url": "http://example.com/", "status": "200"}\n']


def answer(db: Database, **params: Any) -> list[str]:
    q = CdxQuery.from_params({k: [str(v)] for k, v in params.items()})
    with db.session() as s:
        return list(lines(q, query(s, q)))


def test_text_output_is_cdx11_lines(db: Database) -> None:
    """output=text as OpenWayback and pywb serve a CDX11 index: eleven fields in their order, '-' for
    a field the row lacks (redirect, robotflags; mime without a Content-Type); ``fl`` picks them."""
    assert answer(db, url="http://example.com/a", output="text", limit=2) == [
        "com,example)/a 20161101120000 http://example.com/a text/html 200 sha1:B - - 900 1000 site-00000.warc.gz\n",
        "com,example)/a 20161102120000 https://www.example.com/a warc/revisit 200 sha1:C - - 900 2000 site-00000.warc.gz\n",
    ]
    assert answer(db, url="http://example.com/ab", output="text", fl="t,mime,s,redirect") == ["20161101140000 - 301 -\n"]


def test_link_output_is_pywbs_memento_list(db: Database) -> None:
    """output=link as pywb's CDX server writes it: one memento link a row, to the original URL, joined by ',\\n'."""
    assert "".join(answer(db, url="http://example.com/a", output="link", fl="url")) == (
        '<http://example.com/a>; rel="memento"; datetime="Tue, 01 Nov 2016 12:00:00 GMT",\n'
        '<https://www.example.com/a>; rel="memento"; datetime="Wed, 02 Nov 2016 12:00:00 GMT",\n'
        '<http://example.com/a>; rel="memento"; datetime="Thu, 03 Nov 2016 12:00:00 GMT"\n'
    )
    assert answer(db, url="http://example.com/never", output="link") == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "a url= parameter is required, e.g. /cdx?url=http://example.com/page"),
        ({"url": ["x"], "matchType": ["all"]}, "bad matchType 'all': give one of exact, prefix, host, domain"),
        ({"url": ["x"], "limit": ["ten"]}, "bad limit 'ten': give a whole number of at most 18 digits"),
        ({"url": ["x"], "limit": ["-1"]}, "bad limit '-1': give a whole number of at most 18 digits"),
        ({"url": ["x"], "output": ["xml"]}, "bad output 'xml': give one of cdxj, json, text, link (cdxj when left out)"),
        ({"url": ["x"], "collapseTime": ["15"]},
         "bad collapseTime '15': give how many timestamp digits to collapse on, 1 to 14 (8: one capture a day)"),
        ({"url": ["x"], "from": ["2016-11"]}, "from: bad timestamp '2016-11': give 4 to 14 digits, YYYY[MM[DD[hh[mm[ss]]]]]"),
        ({"url": ["x"], "filter": ["~url:("]}, "bad filter '~url:(': missing ): ( (RE2 syntax: no backreferences or lookaround)"),
    ],
)
def test_bad_parameters_say_what_is_wrong(params: dict[str, list[str]], message: str) -> None:
    with pytest.raises(QueryError) as caught:
        CdxQuery.from_params(params)
    assert str(caught.value) == message
