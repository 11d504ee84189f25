"""Sitemaps and robots.txt: the documents a crawler reads to discover a site's pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from syndicrawl.demo.render import escape

_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _entries(tag: str, locations: Sequence[tuple[str, datetime]]) -> str:
    return "".join(
        f"<{tag}><loc>{escape(url)}</loc><lastmod>{when.isoformat()}</lastmod></{tag}>\n" for url, when in locations
    )


def urlset(pages: Sequence[tuple[str, datetime]]) -> bytes:
    """Return a sitemap listing (URL, last modification) pairs."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{_NS}">\n{_entries("url", pages)}</urlset>\n'
    ).encode()


def sitemap_index(sitemaps: Sequence[tuple[str, datetime]]) -> bytes:
    """Return a sitemap index pointing at other sitemaps (which may be gzip files)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{_NS}">\n'
        f"{_entries('sitemap', sitemaps)}</sitemapindex>\n"
    ).encode()


def robots_txt(disallow: Sequence[str], sitemap_url: str) -> bytes:
    """Return a robots.txt for every user agent; an empty `Disallow:` allows everything."""
    rules = "".join(f"Disallow: {path}\n" for path in disallow) or "Disallow:\n"
    return f"User-agent: *\n{rules}\nSitemap: {sitemap_url}\n".encode()
