"""The feed path in-process: entries capped newest first, poll outcomes classified, and fuzzed feeds.

The fuzz (hypothesis, over 1,000 generated documents) feeds RSS, Atom, JSON Feed and sitemaps
with bad entries and broken bytes to the functions the spider calls: nothing raises, every
problem is one line naming the feed and why, and the good entries around bad ones are kept.
"""

from __future__ import annotations

import gzip
import json
import random
from email.utils import format_datetime
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

import pytest
import scrapy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError
from twisted.python.failure import Failure

from archive.db.urls import fetch_problem
from crawler import polls
from crawler.feeds import MAX_URL_LENGTH, ParsedFeed, parse_feed, parse_sitemap, read_feed, select_entries

FEED = "http://127.0.0.1:8000/feed.xml"
SITE = "http://127.0.0.1:8000"
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _entry(n: int, published: str | None = None, url: str | None = None) -> dict[str, str | None]:
    return {"url": url or f"{SITE}/post/{n}/", "entry_id": None, "title": f"Post {n}", "author": None,
            "published": published, "updated": None}


def _day(n: int) -> str:
    return (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=n)).isoformat()


# --- the cap -----------------------------------------------------------------------------------


def test_the_newest_entries_are_taken_and_the_rest_counted() -> None:
    entries = [_entry(n, _day(n)) for n in range(10)] + [_entry(100), _entry(101)]
    random.Random(7).shuffle(entries)
    selection = select_entries(entries, frozenset(), 3)
    assert [e["url"] for e in selection.fetch] == [f"{SITE}/post/{n}/" for n in (9, 8, 7)]
    assert selection.entries == selection.fetch
    assert selection.left == 9


def test_undated_entries_keep_feed_order_after_the_dated() -> None:
    entries = [_entry(1), _entry(2, _day(2)), _entry(3), _entry(4, _day(4))]
    assert [e["url"][-2] for e in select_entries(entries, frozenset(), 10).fetch] == ["4", "2", "1", "3"]


def test_later_polls_take_the_rest_each_entry_once() -> None:
    """A poll knows the entries the polls before it stored, and takes the next newest."""
    entries = [_entry(n, _day(n)) for n in range(25)]
    known: set[str] = set()
    fetched: list[str] = []
    lefts = []
    for _ in range(4):
        selection = select_entries(entries, frozenset(known), 10)
        fetched += [e["url"] for e in selection.fetch]
        known |= {e["url"] for e in selection.entries}  # what the archive stores
        lefts.append(selection.left)
    assert fetched == [f"{SITE}/post/{n}/" for n in range(24, -1, -1)]
    assert lefts == [15, 5, 0, 0]


def test_a_duplicated_entry_is_taken_once() -> None:
    entries = [_entry(1, _day(1)), _entry(1, _day(1)), _entry(2, _day(2))]
    selection = select_entries(entries, frozenset(), 10)
    assert [e["url"] for e in selection.fetch] == [f"{SITE}/post/2/", f"{SITE}/post/1/"]


def test_read_feed_keeps_only_the_selected_entries() -> None:
    items = "".join(
        f"<item><title>Post {n}</title><link>{SITE}/post/{n}/</link>"
        f"<pubDate>{format_datetime(datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=n))}</pubDate></item>"
        for n in range(50)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()
    read = read_feed(body, FEED, "application/rss+xml", frozenset({f"{SITE}/post/49/"}), 5)
    assert read is not None
    feed, selection = read
    assert [e["url"] for e in feed.entries] == [f"{SITE}/post/{n}/" for n in range(49, 43, -1)]
    assert [e["url"] for e in selection.fetch] == [f"{SITE}/post/{n}/" for n in range(48, 43, -1)]
    assert selection.left == 44


# --- poll outcomes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (CannotResolveHostError("no.such.host.invalid"), "dns"),
        (DownloadTimeoutError("Getting x took longer than 3 seconds."), "timeout"),
        (ConnectionRefusedError("refused"), "connection"),
    ],
)
def test_a_failed_poll_says_what_kind_of_failure(exc: Exception, kind: str) -> None:
    """Scrapy 2.19 raises its own exceptions for DNS and timeouts: a DNS failure counted as a
    connection failure and backed off less than the daemon's policy says."""
    request = scrapy.Request(FEED, meta={polls.POLL_FEED: FEED})
    failure = Failure(exc)
    failure.request = request  # type: ignore[attr-defined]
    outcome = polls.failed(request, failure)
    assert outcome["error_kind"] == kind
    assert outcome["feed_url"] == FEED and outcome["error"]


# --- fuzz --------------------------------------------------------------------------------------

GOOD = "good"
BAD_LINKS = {
    "missing": None,
    "javascript": "javascript:alert(1)",
    "data": "data:text/html,<b>x</b>",
    "huge": f"{SITE}/{'a' * MAX_URL_LENGTH}",
    "bad port": "http://127.0.0.1:99999/x",
    "broken ipv6": "http://[::1/x",
    "mailto": "mailto:someone@example.org",
}
DATES = st.sampled_from([None, "good", "garbage", "year 99999", "empty"])
#: Text a well-formed XML document can hold (no controls, surrogates or noncharacters).
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), max_size=40)
ENTRY = st.tuples(st.sampled_from([GOOD, GOOD, GOOD, "relative", *BAD_LINKS]), DATES, TEXT)
CORRUPTIONS = st.sampled_from(["none", "none", "truncate", "insert", "encoding", "latin-1", "empty"])


def _link(kind: str, n: int) -> str | None:
    if kind == GOOD:
        return f"{SITE}/post/{n}/"
    if kind == "relative":
        return f"/relative/{n}/"
    return BAD_LINKS[kind]


def _date(kind: str | None, n: int) -> str | None:
    return {
        None: None,
        "good": format_datetime(datetime(2021, 1, 1, tzinfo=UTC) + timedelta(hours=n)),
        "garbage": "the day after tomorrow",
        "year 99999": "Mon, 01 Jan 99999 00:00:00 GMT",
        "empty": "",
    }[kind]


def _xml_feed(atom: bool, entries: list[tuple[str, str | None, str]]) -> bytes:
    parts = []
    for n, (kind, date_kind, title) in enumerate(entries, 1):
        link, date = _link(kind, n), _date(date_kind, n)
        if atom:
            link_xml = "" if link is None else f"<link rel='alternate' href={quoteattr(link)}/>"
            date_xml = "" if date is None else f"<published>{escape(date)}</published>"
            parts.append(f"<entry><title>{escape(title)}</title>{link_xml}<id>tag:t,2021:{n}</id>{date_xml}</entry>")
        else:
            link_xml = "" if link is None else f"<link>{escape(link)}</link>"
            date_xml = "" if date is None else f"<pubDate>{escape(date)}</pubDate>"
            parts.append(f"<item><title>{escape(title)}</title>{link_xml}"
                         f"<guid isPermaLink='false'>tag:t,2021:{n}</guid>{date_xml}</item>")
    if atom:
        document = f"<feed xmlns='http://www.w3.org/2005/Atom'><title>Fuzz</title>{''.join(parts)}</feed>"
    else:
        document = f"<rss version='2.0'><channel><title>Fuzz</title>{''.join(parts)}</channel></rss>"
    return f"<?xml version='1.0' encoding='utf-8'?>{document}".encode()


def _corrupt(body: bytes, how: str, data: st.DataObject) -> bytes:
    if how == "truncate":
        return body[: data.draw(st.integers(0, len(body)), label="cut")]
    if how == "insert":
        at = data.draw(st.integers(0, len(body)), label="at")
        return body[:at] + data.draw(st.binary(min_size=1, max_size=20), label="junk") + body[at:]
    if how == "encoding":  # declared as something the bytes are not
        declared = data.draw(st.sampled_from(["utf-16", "shift_jis", "no-such-charset", "ebcdic-cp-us"]))
        return body.replace(b"encoding='utf-8'", f"encoding='{declared}'".encode(), 1)
    if how == "latin-1":  # Latin-1 bytes in a document declared UTF-8
        return body.replace(b"<title>Fuzz", "<title>Caf\u00e9 \u00e0 la carte".encode("latin-1"), 1)
    if how == "empty":
        return b""
    return body


def _check_entries(feed: ParsedFeed) -> None:
    """What the spider and the archive rely on, whatever the input."""
    for entry in feed.entries:
        assert fetch_problem(entry["url"]) is None and len(entry["url"]) <= MAX_URL_LENGTH
        scrapy.Request(entry["url"])  # the spider's request can be made
        for key in ("entry_id", "title", "author", "published", "updated"):
            value = entry[key]
            assert value is None or (isinstance(value, str) and "\x00" not in value)
            if value is not None:
                value.encode("utf-8")  # no lone surrogates: SQLite and PostgreSQL take it
    for problem in feed.problems:
        assert problem.startswith(f"{FEED}: ") and "\n" not in problem and len(problem) < 600, problem


@pytest.mark.parametrize("junk", [b"\x80", b"\x00"])
def test_a_feed_whose_declared_encoding_is_unreadable_is_read_as_utf8_and_says_so(junk: bytes) -> None:
    # Found by the fuzzing below: feedparser 6.0.14 decodes the declared encoding's name as
    # UTF-8 and looks it up, and raises on a byte that is not ASCII or a NUL in it.
    body = _xml_feed(False, [(GOOD, "good", "Caf\u00e9")]).replace(b"encoding='", b"encoding='" + junk, 1)
    feed = parse_feed(body, FEED, "application/rss+xml")
    assert feed is not None and [e["title"] for e in feed.entries] == ["Caf\u00e9"]
    assert [p for p in feed.problems if "unreadable XML declaration" in p and p.endswith("; read as UTF-8")]
    _check_entries(feed)


@FUZZ
@given(atom=st.booleans(), entries=st.lists(ENTRY, max_size=12), how=CORRUPTIONS, data=st.data())
def test_fuzzed_rss_and_atom(atom: bool, entries: list[tuple[str, str | None, str]], how: str, data: st.DataObject) -> None:
    body = _corrupt(_xml_feed(atom, entries), how, data)
    feed = parse_feed(body, FEED, "application/atom+xml" if atom else "application/rss+xml")
    if feed is None:  # not a feed: the spider says so in one line
        assert how != "none" or not entries
        return
    _check_entries(feed)
    if how != "none":
        return
    good = {_link(kind, n) for n, (kind, _, _) in enumerate(entries, 1) if kind == GOOD}
    relative = {f"{SITE}/relative/{n}/" for n, (kind, _, _) in enumerate(entries, 1) if kind == "relative"}
    assert {e["url"] for e in feed.entries} == good | relative
    for n, (kind, _, _) in enumerate(entries, 1):
        lines = [p for p in feed.problems if f": entry #{n} " in p]
        if kind in BAD_LINKS:
            assert len(lines) == 1 and lines[0].endswith("; skipped"), (kind, feed.problems)
        else:
            assert all("unreadable date" in line for line in lines) and len(lines) <= 1


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
JSON_ITEM = st.one_of(
    st.tuples(st.just(GOOD), TEXT, st.sampled_from([None, "2021-02-03T04:05:06Z", "2021-02-03", "yesterday",
                                                    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00"])),
    st.tuples(st.just("bad url"), JSON_VALUES.filter(lambda v: not isinstance(v, str) or not v.strip()), st.none()),
    st.tuples(st.just("not an object"), JSON_VALUES.filter(lambda v: not isinstance(v, dict)), st.none()),
    st.tuples(st.just("garbage fields"), st.dictionaries(st.sampled_from(["title", "authors", "author", "id",
                                                                          "date_published", "date_modified"]),
                                                         JSON_VALUES, max_size=6), st.none()),
    st.tuples(st.just("nul and surrogate"), st.just("Caf\x00\ud800"), st.none()),
)


def _json_item(kind: str, value: object, date: str | None, n: int) -> object:
    url = f"{SITE}/post/{n}/"
    if kind == GOOD:
        return {"id": n, "url": url, "title": value, "date_published": date}
    if kind == "bad url":
        return {"id": str(n), "url": value, "title": "bad"}
    if kind == "not an object":
        return value
    if kind == "garbage fields":
        return {**value, "url": url}  # type: ignore[dict-item]
    return {"id": value, "url": url, "title": value, "authors": [{"name": value}]}


@FUZZ
@given(items=st.lists(JSON_ITEM, max_size=10), title=JSON_VALUES, items_not_a_list=st.booleans())
def test_fuzzed_json_feed(items: list[tuple[str, object, str | None]], title: object, items_not_a_list: bool) -> None:
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "items": {"oops": 1} if items_not_a_list else [_json_item(k, v, d, n) for n, (k, v, d) in enumerate(items, 1)],
    }
    feed = parse_feed(json.dumps(document).encode(), FEED, "application/feed+json")
    assert feed is not None and feed.kind == "json"
    _check_entries(feed)
    if items_not_a_list:
        assert feed.entries == [] and len(feed.problems) == 1
        return
    kept = {n for n, (kind, _, _) in enumerate(items, 1) if kind in {GOOD, "garbage fields", "nul and surrogate"}}
    assert {e["url"] for e in feed.entries} == {f"{SITE}/post/{n}/" for n in kept}
    for n, (kind, _, _) in enumerate(items, 1):
        lines = [p for p in feed.problems if f": entry #{n} " in p]
        if kind in {"bad url", "not an object"}:
            assert len(lines) == 1 and lines[0].endswith("; skipped"), lines
        else:
            assert all("unreadable date" in line for line in lines) and len(lines) <= 1, lines


LASTMODS = st.sampled_from(["2021-01-01", "2021-13-45T99:00", "not a date", "", "\u00e9\u00e9"])
SITEMAP_ENTRY = st.tuples(st.sampled_from([GOOD, GOOD, "relative", *BAD_LINKS]), LASTMODS)


@FUZZ
@given(index=st.booleans(), entries=st.lists(SITEMAP_ENTRY, max_size=10),
       how=st.sampled_from(["none", "gzip", "truncated gzip", "gzip bomb", "truncate", "insert", "empty"]),
       data=st.data())
def test_fuzzed_sitemaps(index: bool, entries: list[tuple[str, str]], how: str, data: st.DataObject) -> None:
    tag = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    urls = "".join(
        f"<{tag[1]}>{'' if _link(kind, n) is None else f'<loc>{escape(str(_link(kind, n)))}</loc>'}"
        f"<lastmod>{escape(lastmod)}</lastmod></{tag[1]}>"
        for n, (kind, lastmod) in enumerate(entries, 1)
    )
    body = (f'<?xml version="1.0" encoding="UTF-8"?><{tag[0]} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</{tag[0]}>").encode()
    max_size = 1_000_000
    if how == "gzip":
        body = gzip.compress(body)
    elif how == "truncated gzip":
        body = gzip.compress(body)[: data.draw(st.integers(2, 30))]
    elif how == "gzip bomb":
        body = gzip.compress(body + b" " * (max_size + 1))
    else:
        body = _corrupt(body, how, data)
    sitemap = parse_sitemap(body, FEED, max_size)
    assert all(problem.startswith(f"{FEED}: unreadable sitemap (") for problem in sitemap.problems)
    assert len(sitemap.problems) <= 1 and (sitemap.problems == [] or sitemap.entries == [])
    for loc, lastmod in sitemap.entries:
        assert isinstance(loc, str) and (lastmod is None or isinstance(lastmod, str))
        if fetch_problem(loc) is None:
            scrapy.Request(loc)
    if how in {"none", "gzip"}:
        assert sitemap.index == index
        assert [loc for loc, _ in sitemap.entries] == [
            _link(kind, n) for n, (kind, _) in enumerate(entries, 1) if _link(kind, n) is not None
        ]
    if how == "gzip bomb":
        assert sitemap.problems and not sitemap.entries


@FUZZ
@given(body=st.binary(max_size=300) | st.builds(lambda b: b"<?xml version='1.0'?><rss>" + b, st.binary(max_size=200)))
def test_fuzzed_bytes(body: bytes) -> None:
    feed = parse_feed(body, FEED)
    if feed is not None:
        _check_entries(feed)
    sitemap = parse_sitemap(body, FEED, 1_000_000)
    assert len(sitemap.problems) <= 1
