"""Feeds to entries: RSS and Atom via feedparser, JSON Feed by hand; bad entries are skipped, not fatal.

feedparser 6.0 has no JSON Feed support (it arrives in 6.1, unreleased), and JSON Feed is plain
JSON with a small fixed schema, so ``_json_feed`` reads it directly. Every value an entry keeps
is a string the archive can store (or None), whatever the document held.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import reprlib
from collections.abc import Container, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from archive.db.urls import fetch_problem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's entries as plain data; ``problems`` lists what was wrong, one line each."""

    url: str
    kind: str
    title: str | None
    entries: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)


#: Longer entry links are skipped: the sitemaps protocol's limit, and PostgreSQL cannot index
#: much longer URLs (a btree row holds at most 2704 bytes).
MAX_URL_LENGTH = 2048

#: Values quoted in a problem line are cut short: a line, not a megabyte of ``javascript:``.
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 100
_shown = _repr.repr


def _iso(parsed: struct_time | None) -> str | None:
    # feedparser normalises every date format to a UTC struct_time; year 10000 does not fit a datetime.
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return None


def _text(value: object) -> str | None:
    """A string the archive can store: NULs removed (PostgreSQL refuses them), lone surrogates
    (a JSON ``"\\ud800"``) replaced; anything but a string is None."""
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _kind(version: str) -> str:
    for prefix in ("rss", "atom", "json"):
        if version.startswith(prefix):
            return prefix
    return "unknown"


def _entry_url(feed_url: str, n: int, link: object, problems: list[str]) -> str | None:
    """The entry's absolute URL; None, with a problem line, when a crawl cannot fetch it.

    Checked here, entry by entry: a link that only failed as a request (``javascript:``,
    ``http://[x``) ended the parsing of its feed and lost the entries after it.
    """
    try:
        url = urljoin(feed_url, link.strip()) if isinstance(link, str) and link.strip() else None
    except ValueError:
        url = None
    problem = fetch_problem(url)
    if problem is None and url is not None and len(url) > MAX_URL_LENGTH:
        problem = f"longer than {MAX_URL_LENGTH} characters"
    elif problem is None and url != _text(url):
        problem = "not an http(s) URL"
    if problem:
        problems.append(f"{feed_url}: entry #{n} links to {_shown(link)}: {problem}; skipped")
        return None
    return url


def _json_date(value: object) -> str | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        return (parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat() if parsed else None
    except (ValueError, OverflowError):  # not ISO 8601; '0001-01-01T00:00:00+01:00' is before year 1 in UTC
        return None


def _json_feed(document: dict[str, Any], url: str) -> ParsedFeed:
    """JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1)."""
    problems = []
    entries = []
    items = document.get("items")
    if not isinstance(items, list):
        problems.append(f"{url}: JSON Feed without an items list; no entries")
        items = []
    for n, item in enumerate(items, 1):
        link = item.get("url") or item.get("external_url") if isinstance(item, dict) else None
        if not link:
            problems.append(f"{url}: entry #{n} has no url; skipped")
            continue
        link = _entry_url(url, n, link, problems)
        if link is None:
            continue
        authors = item.get("authors") or [item.get("author")]
        author = authors[0] if isinstance(authors, list) and authors else None
        published = item.get("date_published")
        if published and not _json_date(published):
            problems.append(f"{url}: entry #{n} has an unreadable date {_shown(published)}")
        entry_id = item.get("id")
        entries.append(
            {
                "url": link,
                "entry_id": _text(str(entry_id)) if isinstance(entry_id, str | int) else None,
                "title": _text(item.get("title")),
                "author": _text(author.get("name")) if isinstance(author, dict) else None,
                "published": _json_date(published),
                "updated": _json_date(item.get("date_modified")),
            }
        )
    return ParsedFeed(url, "json", _text(document.get("title")), entries, problems)


def _as_json_feed(body: bytes) -> dict[str, Any] | None:
    if not body.lstrip()[:1] == b"{":
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: a few thousand nested brackets
        return None
    version = document.get("version", "") if isinstance(document, dict) else ""
    return document if str(version).startswith("https://jsonfeed.org/version/") else None


#: An XML declaration, dropped from a feed whose declared encoding feedparser cannot read.
_XML_DECLARATION = re.compile(rb"^\s*<\?xml.*?\?>", re.S)


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed | None:
    """Parse a feed document; None when the body is not a feed at all (e.g. an HTML page)."""
    document = _as_json_feed(body)
    if document is not None:
        return _json_feed(document, url)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    problems = []
    try:
        parsed = feedparser.parse(body, response_headers=headers)
    except ValueError as error:
        # feedparser 6.0.14 decodes the declared encoding's name as UTF-8 and looks it up: a byte
        # that is not ASCII (UnicodeDecodeError) or a NUL in it (ValueError) escape its parse.
        problems.append(f"{url}: malformed feed (unreadable XML declaration: {_shown(str(error))}); read as UTF-8")
        try:
            parsed = feedparser.parse(_XML_DECLARATION.sub(b"", body.replace(b"\x00", b""), count=1),
                                      response_headers=headers)
        except ValueError:
            return None
    if not parsed.get("version") and not parsed.entries:  # an empty body has no version at all
        return None
    if parsed.bozo:
        problems.append(f"{url}: malformed feed ({parsed.bozo_exception}); kept the entries that could be read")
    entries = []
    for n, entry in enumerate(parsed.entries, 1):
        link = entry.get("link")
        if not link:
            problems.append(f"{url}: entry #{n} ({_shown(entry.get('title', 'untitled'))}) has no link; skipped")
            continue
        link = _entry_url(url, n, link, problems)
        if link is None:
            continue
        if entry.get("published") and not entry.get("published_parsed"):
            problems.append(f"{url}: entry #{n} has an unreadable date {_shown(entry.get('published'))}")
        entries.append(
            {
                "url": link,
                "entry_id": _text(entry.get("id")),
                "title": _text(entry.get("title")),
                "author": _text(entry.get("author")),
                "published": _iso(entry.get("published_parsed")),
                # Not entry.get: feedparser 6 answers a missing updated_parsed with published_parsed (and a warning).
                "updated": _iso(dict.get(entry, "updated_parsed")),
            }
        )
    return ParsedFeed(url, _kind(parsed.get("version") or ""), _text(parsed.feed.get("title")), entries, problems)


@dataclass(frozen=True)
class Selection:
    """The entries one crawl takes from a feed: ``entries`` go to the archive (newest first),
    ``fetch`` are those to fetch; ``left`` new entries wait for a later poll."""

    entries: list[dict[str, Any]]
    fetch: list[dict[str, Any]]
    left: int


def newest_first(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dated entries newest first (published, else updated), then the undated in feed order.

    The dates are ISO 8601 in UTC from ``datetime.isoformat``, so they compare as strings.
    """
    dated = [entry for entry in entries if entry["published"] or entry["updated"]]
    undated = [entry for entry in entries if not (entry["published"] or entry["updated"])]
    return sorted(dated, key=lambda entry: entry["published"] or entry["updated"], reverse=True) + undated


def select_entries(entries: Sequence[dict[str, Any]], known: Container[str], limit: int) -> Selection:
    """The newest ``limit`` entries not ``known`` (already archived by a poll), once each.

    A feed of 100,000 entries was followed whole, 33 hours at one request a second, keeping
    every other source's WARC file open. The entries kept end at the last one fetched: the
    next poll knows those and takes the next ``limit``.
    """
    kept: list[dict[str, Any]] = []
    fetch: list[dict[str, Any]] = []
    seen: set[str] = set()
    left = 0
    for entry in newest_first(entries):
        if entry["url"] in seen:
            continue
        seen.add(entry["url"])
        new = entry["url"] not in known
        if len(fetch) == limit:
            left += new
        else:
            kept.append(entry)
            if new:
                fetch.append(entry)
    return Selection(kept, fetch, left)


def read_feed(
    body: bytes, url: str, content_type: str | None, known: Container[str], limit: int
) -> tuple[ParsedFeed, Selection] | None:
    """``parse_feed`` then ``select_entries``: the feed keeps only the entries selected, so the
    rest of a big feed is freed at once. None when the body is not a feed."""
    feed = parse_feed(body, url, content_type)
    if feed is None:
        return None
    selection = select_entries(feed.entries, known, limit)
    return replace(feed, entries=selection.entries), selection


@dataclass(frozen=True)
class ParsedSitemap:
    """A sitemap's entries, ``(loc, lastmod)`` as found; ``index``: they are sitemaps themselves."""

    url: str
    index: bool
    entries: list[tuple[str, str | None]]
    problems: list[str] = field(default_factory=list)


def parse_sitemap(body: bytes, url: str, max_size: int) -> ParsedSitemap:
    """A sitemap or sitemap index, gzipped or not (decompressed up to ``max_size`` bytes)."""
    try:
        sitemap = Sitemap(gunzip(body, max_size=max_size) if body[:2] == b"\x1f\x8b" else body)
    except Exception as exc:  # gzip and lxml raise several types on garbage; the crawl goes on
        return ParsedSitemap(url, False, [], [f"{url}: unreadable sitemap ({' '.join(str(exc).split()) or type(exc).__name__})"])
    entries = [(loc, _text(entry.get("lastmod"))) for entry in sitemap if (loc := _text(entry.get("loc")))]
    return ParsedSitemap(url, sitemap.type == "sitemapindex", entries)
