"""Feeds (RSS, Atom, JSON Feed via feedparser) to entries; bad entries are skipped, not fatal."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser

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


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed | None:
    """Parse a feed document; None when the body is not a feed at all (e.g. an HTML page)."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.version and not parsed.entries:
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
        if entry.get("published") and not entry.get("published_parsed"):
            problems.append(f"{url}: entry #{n} has an unreadable date {entry.get('published')!r}")
        entries.append(
            {
                "url": urljoin(url, link),
                "entry_id": entry.get("id"),
                "title": entry.get("title"),
                "author": entry.get("author"),
                "published": _iso(entry.get("published_parsed")),
                "updated": _iso(entry.get("updated_parsed")),
            }
        )
    return ParsedFeed(url, _kind(parsed.version or ""), parsed.feed.get("title"), entries, problems)
