"""Helpers the two themes share: packaged templates, plain text, excerpts and dates.

Templates are `string.Template` files in `templates/`, so the markup can be read and
edited as HTML; every value substituted into them is escaped by the caller except
post bodies, which are HTML already.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from html import escape
from html.parser import HTMLParser
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from syndicrawl.demo.base import Post

T = TypeVar("T")

__all__ = ["clock", "escape", "excerpt", "fill", "long_date", "newest_first", "paginate", "plain_text", "slugify"]


@functools.cache
def _template(name: str) -> Template:
    text = resources.files("syndicrawl.demo").joinpath("templates", name).read_text(encoding="utf-8")
    return Template(text)


def fill(name: str, **values: str) -> str:
    """Render template `name`; a missing value raises KeyError rather than leaving `$x`."""
    return _template(name).substitute(values)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")


def plain_text(html: str) -> str:
    """Return the text of an HTML fragment with whitespace collapsed (for excerpts)."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return " ".join("".join(collector.parts).split())


def excerpt(html: str, words: int = 55) -> str:
    """Return the first `words` words of `html` as text, marked like WordPress when cut."""
    tokens = plain_text(html).split(" ")
    return " ".join(tokens[:words]) + (" [\u2026]" if len(tokens) > words else "")


def slugify(text: str) -> str:
    """Return the URL slug of a category or author name ("RBN Staff" -> "rbn-staff")."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def long_date(when: datetime) -> str:
    """Format a date as English blogs show it: "November 1, 2016"."""
    return f"{when:%B} {when.day}, {when.year}"


def clock(when: datetime) -> str:
    """Format a time as Blogger shows it: "9:47 AM"."""
    return f"{when.hour % 12 or 12}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"


def newest_first(posts: Sequence[Post]) -> list[Post]:
    """Order posts as blog home pages and feeds list them."""
    return sorted(posts, key=lambda post: post.published, reverse=True)


def paginate(items: Sequence[T], per_page: int) -> list[Sequence[T]]:
    """Split `items` into pages; an empty site still has one (empty) first page."""
    if per_page < 1:
        raise ValueError(f"per_page must be at least 1, got {per_page}")
    return [items[start : start + per_page] for start in range(0, len(items), per_page)] or [items[:0]]
