"""Where to go from an HTML page: its feeds, its article links and its older-posts page.

The selectors cover the WordPress and Blogger themes most repost sites and author blogs use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

if TYPE_CHECKING:
    from scrapy.http import TextResponse

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")

ARTICLE_LINKS = (
    "a[rel~=bookmark]::attr(href)",  # WordPress permalinks
    ".entry-title a::attr(href)",
    ".post-title a::attr(href)",  # Blogger
    "article h2 a::attr(href)",
)

OLDER_PAGE_LINKS = (
    "a.blog-pager-older-link::attr(href)",  # Blogger: /search?updated-max=...
    ".nav-previous a::attr(href)",  # WordPress "Older posts"
    "a.next.page-numbers::attr(href)",  # WordPress numbered pagination
    "a[rel~=next]::attr(href)",
    "link[rel~=next]::attr(href)",
)


def _unique(urls: list[str]) -> list[str]:
    return list(dict.fromkeys(urls))


def feed_links(response: TextResponse) -> list[str]:
    """Feeds a page announces with <link rel=alternate>, except comment feeds."""
    urls = []
    for link in response.css("link[rel~=alternate]"):
        href = link.attrib.get("href")
        if href and link.attrib.get("type", "").lower() in FEED_TYPES and "comments" not in href.lower():
            urls.append(response.urljoin(href))
    return _unique(urls)


def article_links(response: TextResponse) -> list[str]:
    """Permalinks of the posts a listing page shows."""
    return _unique([response.urljoin(href) for css in ARTICLE_LINKS for href in response.css(css).getall()])


def older_page(response: TextResponse) -> str | None:
    """The next-older archive page, or None. Falls back to WordPress's /page/N/ scheme."""
    for css in OLDER_PAGE_LINKS:
        href = response.css(css).get()
        if href:
            return response.urljoin(href)
    generator = response.css('meta[name="generator"]::attr(content)').get() or ""
    if generator.lower().startswith("wordpress"):
        page = response.meta.get("syndicrawl_page", 0)
        return urljoin(response.url, f"/page/{page + 2}/")
    return None
