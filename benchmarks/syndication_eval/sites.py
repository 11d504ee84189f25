"""The cast of sites: author blogs, a magazine, repost sites, a scraper and a blog without dates.

A `Role` is what a site is and how it reposts: the line it puts above a copied text, the
credit it sometimes adds, whether it strips links. `build_site` turns a role and its posts
into a demo site. Two variants real sites have are added here by rewriting the rendered
pages: a theme that shows no date (and permalinks without one), and pages sent in
windows-1252.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import TYPE_CHECKING

from syndicrawl.demo.base import GeneratedSite, Post, Resource
from syndicrawl.demo.blogger import BloggerSite
from syndicrawl.demo.wordpress import WordPressSite

if TYPE_CHECKING:
    from syndicrawl.sources import Kind

PER_PAGE = 10
FEED_ITEMS = 10
# Paths that pages link to and robots.txt forbids: WordPress pages announce the Atom feed
# and link bylines to author archives; Blogger pages announce the RSS feed and link labels.
ROBOTS_DISALLOW = {
    "wordpress": ("/feed/atom/", "/author/"),
    "blogger": ("/feeds/posts/default?alt=rss", "/search/label/"),
}
FEED_PATH = {"wordpress": "/feed/", "blogger": "/feeds/posts/default"}


@dataclass(frozen=True)
class Role:
    """A site of the benchmark and its habits.

    `header`, `credit` and `note` are templates with `{author}`, `{source}` (the site a copy
    was taken from) and `{title}`; `footer` is what the site appends to its own articles.
    """

    name: str
    title: str
    kind: Kind
    platform: str
    utc_offset: float
    staff: str
    footer: tuple[str, ...] = ()
    header: str = ""
    credit: str = ""
    note: str = ""
    strips_links: bool = True
    undated: bool = False
    encoding: str = "utf-8"

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset))


ORIGIN_BLOGS = ("lendman", "dubois", "brandt", "okonkwo")
REPOST_HOSTS = ("rwire", "digest", "global", "liberty", "notes")


def roles(lendman_footer: Sequence[str], okonkwo_bio: Sequence[str]) -> tuple[Role, ...]:
    """Return the sites, in the order they are served (127.0.0.10, .11, ...)."""
    return (
        Role("lendman", "Stephen Lendman", "origin", "blogger", -5, "Stephen Lendman", tuple(lendman_footer)),
        Role(
            "dubois",
            "Carnets de Marc Dubois",
            "origin",
            "wordpress",
            1,
            "Marc Dubois",
            ("Marc Dubois writes from Lyon. Read his notebook at "
             '<a href="https://carnets.example/">carnets.example</a>',),
        ),
        Role(
            "brandt",
            "Tom Brandt",
            "origin",
            "wordpress",
            -5,
            "Tom Brandt",
            ('Write to Tom at <a href="mailto:tom@brandt.example">tom@brandt.example</a>',),
        ),
        Role("okonkwo", "Ruth Okonkwo Reports", "origin", "blogger", 0, "Ruth Okonkwo", tuple(okonkwo_bio)),
        Role(
            "ledger",
            "The Weekly Ledger",
            "unknown",
            "wordpress",
            -5,
            "Tom Brandt",
            ("Tom Brandt&#8217;s column appears every Thursday in The Weekly Ledger.",),
        ),
        Role(
            "notes",
            "Plain Notes",
            "unknown",
            "wordpress",
            -8,
            "Jonas Weber",
            header="By {author}, via {source}",
            credit="Reposted from {source}.",
            note="Worth reading in full.",
            strips_links=False,
            undated=True,
        ),
        Role("scraper", "NewsFeedr", "unknown", "wordpress", 3, "NewsFeedr"),
        Role(
            "rwire",
            "Republic Wire",
            "repost",
            "wordpress",
            -5,
            "RW Staff",
            header="by {author}",
            credit="This article originally appeared at {source}.",
            note="Republic Wire reposts commentary from independent writers. "
            "The views expressed are the author&#8217;s own.",
        ),
        Role(
            "digest",
            "Free Press Digest",
            "repost",
            "blogger",
            -6,
            "Digest Editor",
            header="{author} | {source}",
            credit="Originally published at {source}.",
            note="Free Press Digest collects the week&#8217;s best independent reporting. Share it with a friend.",
            strips_links=False,
        ),
        Role(
            "global",
            "Global Reposts",
            "repost",
            "wordpress",
            0,
            "GR Desk",
            header="Author: {author}",
            credit="Source: {source}",
            note="Global Reposts: the news the mainstream will not print. Support us by sharing this article.",
            encoding="windows-1252",
        ),
        Role(
            "liberty",
            "Liberty Blogger",
            "repost",
            "blogger",
            -7,
            "Liberty Editor",
            header="{author} writes:",
            # What is left of "TITLE by AUTHOR (<a>site</a> – Home – <a>AUTHOR</a>)" once links are gone.
            credit="{title} by {author} ( &#8211; Home &#8211; {author})",
            note="Editor&#8217;s note: we publish this in full because it deserves a wider audience.",
        ),
    )


class UndatedWordPressSite(WordPressSite):
    """A WordPress theme that shows no date, with "post name" permalinks (/slug/) that hold none either."""

    def path(self, post: Post) -> str:
        return f"/{post.slug}/"


# What an undated theme leaves out. Feeds and sitemaps keep their dates, as they do on such
# sites; the copyright year goes too, or date extractors would read it as every page's date.
_DATES = (
    re.compile(r'<span class="posted-on">.*?</span> in ', re.DOTALL),
    re.compile(r'<meta property="article:(?:published|modified)_time"[^>]*>\n?'),
    re.compile(r"(?<=Copyright &copy; )\d{4} "),
)


def _rewrite_pages(site: GeneratedSite, encoding: str, undated: bool) -> None:
    """Remove dates from `site`'s HTML pages and/or send them in `encoding`, declared in header and page."""
    for path, found in site.resources.items():
        if not (isinstance(found, Resource) and found.content_type.startswith("text/html")):
            continue
        page = found.body.decode("utf-8")
        for pattern in _DATES if undated else ():
            page = pattern.sub("", page)
        page = page.replace('<meta charset="UTF-8">', f'<meta charset="{encoding}">', 1)
        content_type = found.content_type.replace("UTF-8", encoding)
        site.resources[path] = Resource(page.encode(encoding, "xmlcharrefreplace"), content_type, found.modified)


def build_site(role: Role, posts: Sequence[Post], base_url: str) -> WordPressSite | BloggerSite:
    """Return the demo site of `role` serving `posts` at `base_url`."""
    tagline = f"{role.title}: {role.kind} site"
    disallow = ROBOTS_DISALLOW[role.platform]
    site: WordPressSite | BloggerSite
    if role.platform == "blogger":
        site = BloggerSite(
            role.title, posts, base_url=base_url, tagline=tagline, per_page=PER_PAGE, feed_items=FEED_ITEMS,
            robots_disallow=disallow,
        )
    else:
        theme = UndatedWordPressSite if role.undated else WordPressSite
        site = theme(
            role.title, posts, base_url=base_url, tagline=tagline, per_page=PER_PAGE, feed_items=FEED_ITEMS,
            robots_disallow=disallow,
        )
    if role.undated or role.encoding != "utf-8":
        _rewrite_pages(site, role.encoding, role.undated)
    return site
