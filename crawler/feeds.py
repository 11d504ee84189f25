"""Feeds to entries: RSS and Atom via feedparser, JSON Feed by hand; bad entries are skipped, not fatal.

feedparser 6.0 has no JSON Feed support (it arrives in 6.1, unreleased), and JSON Feed is plain
JSON with a small fixed schema, so ``_json_feed`` reads it directly.
"""

from __future__ import annotations

import calendar
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser

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


def _iso(parsed: struct_time | None) -> str | None:
    # feedparser normalises every date format to a UTC struct_time.
    if parsed is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat()


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
        url = urljoin(feed_url, link) if isinstance(link, str) else None
    except ValueError:
        url = None
    problem = fetch_problem(url)
    if problem:
        problems.append(f"{feed_url}: entry #{n} links to {link!r}: {problem}; skipped")
        return None
    return url


def _json_date(value: object) -> str | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.astimezone(UTC).isoformat() if parsed.tzinfo else parsed.replace(tzinfo=UTC).isoformat()


def _json_feed(document: dict[str, Any], url: str) -> ParsedFeed:
    """JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1)."""
    problems = []
    entries = []
    items = document.get("items")
    for n, item in enumerate(items if isinstance(items, list) else [], 1):
        link = item.get("url") or item.get("external_url") if isinstance(item, dict) else None
        if not link:
            problems.append(f"{url}: entry #{n} has no url; skipped")
            continue
        link = _entry_url(url, n, link, problems)
        if link is None:
            continue
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        published = item.get("date_published")
        if published and not _json_date(published):
            problems.append(f"{url}: entry #{n} has an unreadable date {published!r}")
        entries.append(
            {
                "url": link,
                "entry_id": str(item.get("id")) if item.get("id") is not None else None,
                "title": item.get("title"),
                "author": authors[0].get("name") if authors and isinstance(authors[0], dict) else None,
                "published": _json_date(published) if published else None,
                "updated": _json_date(item["date_modified"]) if item.get("date_modified") else None,
            }
        )
    return ParsedFeed(url, "json", document.get("title"), entries, problems)


def _as_json_feed(body: bytes) -> dict[str, Any] | None:
    if not body.lstrip()[:1] == b"{":
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    version = document.get("version", "") if isinstance(document, dict) else ""
    return document if str(version).startswith("https://jsonfeed.org/version/") else None


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed | None:
    """Parse a feed document; None when the body is not a feed at all (e.g. an HTML page)."""
    document = _as_json_feed(body)
    if document is not None:
        return _json_feed(document, url)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:  # an empty body has no version at all
        return None
    problems = []
    if parsed.bozo:
        problems.append(f"{url}: malformed feed ({parsed.bozo_exception}); kept the entries that could be read")
    entries = []
    for n, entry in enumerate(parsed.entries, 1):
        link = entry.get("link")
        if not link:
            problems.append(f"{url}: entry #{n} ({entry.get('title', 'untitled')!r}) has no link; skipped")
            continue
        link = _entry_url(url, n, link, problems)
        if link is None:
            continue
        if entry.get("published") and not entry.get("published_parsed"):
            problems.append(f"{url}: entry #{n} has an unreadable date {entry.get('published')!r}")
        entries.append(
            {
                "url": link,
                "entry_id": entry.get("id"),
                "title": entry.get("title"),
                "author": entry.get("author"),
                "published": _iso(entry.get("published_parsed")),
                "updated": _iso(entry.get("updated_parsed")),
            }
        )
    return ParsedFeed(url, _kind(parsed.get("version") or ""), parsed.feed.get("title"), entries, problems)
