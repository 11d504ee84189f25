"""A generated site built on a real page's chrome: posts, listings, an RSS feed, a sitemap and robots.txt.

Every site of the set is a `TemplateSite`: its article pages are a corpus page (see
`material.Template`) with the post in place of the page's own article. A role says how the
site shows its posts: with dates on the page or none at all (the feed and the sitemap's
lastmod still carry them, as on real undated themes), its permalink scheme, its character
encoding. The crawler finds posts through the feed (the newest `FEED_ITEMS`), the sitemap
(every post, with lastmod) and the home and archive pages (every post); the listings also
link each post's print view, which robots.txt forbids.

Post bodies may name other pages as ``{{url:PAGE_ID}}`` (citations, canonical links): they are
resolved when the site is built, from the base URLs of the sites already serving, so a
citing site must be served after the site it cites.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape

from benchmarks.corpus_eval.material import Template
from syndicrawl.demo.base import GeneratedSite, Resource
from syndicrawl.demo.sitemaps import robots_txt, urlset

FEED_ITEMS = 15
HOME_ITEMS = 10
ROBOTS_DISALLOW = ("/print/",)
FEED_PATH, SITEMAP_PATH = "/feed.xml", "/sitemap.xml"
URL_TOKEN = re.compile(r"\{\{url:([^}]+)\}\}")

# Permalink schemes of real blog engines and news CMSs; the undated ones hold no date either.
PERMALINKS: dict[str, Callable[[Article, int], str]] = {
    "wordpress": lambda a, n: f"/{a.published:%Y/%m/%d}/{a.slug}/",
    "blogger": lambda a, n: f"/{a.published:%Y/%m}/{a.slug}.html",
    "news": lambda a, n: f"/news/{a.published:%Y/%m/%d}/{a.slug}.html",
    "postname": lambda a, n: f"/{a.slug}/",
    "notes": lambda a, n: f"/notes/{a.slug}/",
    "numeric": lambda a, n: f"/archives/{1000 + n}",
    "story": lambda a, n: f"/story/{a.slug}",
}


@dataclass(frozen=True)
class Role:
    """One site: its name (also the source name), what it is and how it shows posts."""

    name: str
    title: str
    kind: str
    permalink: str
    dated: bool
    utc_offset: int
    template: Template
    encoding: str = "utf-8"

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset))


@dataclass(frozen=True)
class Article:
    """A post as its site shows it. `paragraphs` are HTML; `bio` goes in a <div class="author-bio">."""

    slug: str
    title: str
    author: str
    published: datetime
    paragraphs: tuple[str, ...]
    lang: str
    updated: datetime | None = None
    bio: tuple[str, ...] = ()
    canonical: str | None = None  # the page id a cross-domain canonical link names


def _long_date(when: datetime) -> str:
    return f"{when:%B} {when.day}, {when.year}"


class TemplateSite(GeneratedSite):
    """The pages of one role, rendered once; `url_of` turns a page id into the URL it is served at."""

    def __init__(self, role: Role, articles: Sequence[Article], base_url: str, url_of: Callable[[str], str]) -> None:
        super().__init__(base_url)
        self.role = role
        self._number = {article.slug: n for n, article in enumerate(articles)}
        self._url_of = url_of
        newest = sorted(articles, key=lambda a: a.published, reverse=True)
        html = f"text/html; charset={role.encoding}"
        for article in articles:
            self.resources[self.path(article)] = Resource(self._encode(self._post(article)), html,
                                                          article.updated or article.published)
        self.resources["/"] = Resource(self._encode(self._listing(newest[:HOME_ITEMS], "/archive/")), html)
        self.resources["/archive/"] = Resource(self._encode(self._listing(newest, None)), html)
        self.resources[FEED_PATH] = Resource(self._rss(newest[:FEED_ITEMS]), "application/rss+xml; charset=UTF-8")
        self.resources[SITEMAP_PATH] = Resource(
            urlset([(self.permalink(a), a.updated or a.published) for a in newest]), "application/xml")
        self.resources["/robots.txt"] = Resource(robots_txt(ROBOTS_DISALLOW, self.base_url + SITEMAP_PATH),
                                                 "text/plain; charset=UTF-8")

    def path(self, article: Article) -> str:
        return PERMALINKS[self.role.permalink](article, self._number[article.slug])

    def permalink(self, article: Article) -> str:
        return self.base_url + self.path(article)

    def _encode(self, page: str) -> bytes:
        return page.encode(self.role.encoding, "xmlcharrefreplace")

    def _resolve(self, html: str) -> str:
        return URL_TOKEN.sub(lambda match: escape(self._url_of(match.group(1))), html)

    def _head(self, canonical: str, extra: str = "") -> str:
        charset = f'<meta http-equiv="Content-Type" content="text/html; charset={self.role.encoding}">\n'
        feed = f'<link rel="alternate" type="application/rss+xml" title="{escape(self.role.title)}" href="{FEED_PATH}">'
        return (f'{charset}<link rel="canonical" href="{escape(canonical)}">\n{feed}\n'
                f'<meta property="og:site_name" content="{escape(self.role.title)}">\n{extra}')

    def _post(self, article: Article) -> str:
        role = self.role
        meta, head = [], ['<meta property="og:type" content="article">']
        if role.dated:
            published = article.published.astimezone(role.tz)
            meta.append(f'<span class="posted-on">Published <time class="entry-date published" '
                        f'datetime="{published.isoformat()}">{_long_date(published)}</time></span>')
            head.append(f'<meta property="article:published_time" content="{published.isoformat()}">')
            if article.updated is not None:
                updated = article.updated.astimezone(role.tz)
                meta.append(f'<span class="updated-on">Updated <time class="updated" '
                            f'datetime="{updated.isoformat()}">{_long_date(updated)}</time></span>')
                head.append(f'<meta property="article:modified_time" content="{updated.isoformat()}">')
        meta.append(f'<span class="byline">by <span class="author vcard">{escape(article.author)}</span></span>')
        body = "\n".join(f"<p>{self._resolve(p)}</p>" for p in article.paragraphs)
        bio = "".join(f"<p>{p}</p>" for p in article.bio)
        main = (
            f'<article class="post hentry">\n<h1 class="entry-title">{escape(article.title)}</h1>\n'
            f'<div class="entry-meta">{" ".join(meta)}</div>\n<div class="entry-content">\n{body}\n</div>\n'
            + (f'<div class="author-bio">{bio}</div>\n' if bio else "")
            + "</article>"
        )
        canonical = self._url_of(article.canonical) if article.canonical else self.permalink(article)
        return role.template.render(title=f"{article.title} – {role.title}", head=self._head(canonical, "\n".join(head)),
                                    main=main, lang=article.lang)

    def _listing(self, articles: Sequence[Article], older: str | None) -> str:
        items = "".join(
            f'<article class="post"><h2 class="entry-title"><a href="{escape(self.path(a))}">{escape(a.title)}</a></h2>'
            f'<p><a rel="bookmark" href="/print/{escape(a.slug)}/">Print</a></p></article>\n'
            for a in articles
        )
        more = f'<p class="nav-links"><a href="{older}">All posts</a></p>' if older else ""
        main = f'<div class="posts"><h1 class="page-title">{escape(self.role.title)}</h1>\n{items}{more}</div>'
        return self.role.template.render(title=self.role.title, head=self._head(self.base_url + "/"), main=main, lang="en")

    def _rss(self, articles: Sequence[Article]) -> bytes:
        items = "".join(
            f"<item><title>{escape(a.title)}</title><link>{escape(self.permalink(a))}</link>"
            f"<guid>{escape(self.permalink(a))}</guid><pubDate>{format_datetime(a.published)}</pubDate>"
            f"<author>{escape(a.author)}</author></item>\n"
            for a in articles
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(self.role.title)}</title><link>{escape(self.base_url)}/</link>"
            f"<description>{escape(self.role.title)}</description>\n{items}</channel></rss>\n"
        ).encode()


def source_entry(role: Role, base_url: str) -> dict[str, object]:
    """The sources-file fields that reach every post of `role`'s site served at `base_url`."""
    return {
        "name": role.name,
        "kind": role.kind,
        "feeds": [base_url + FEED_PATH],
        "sitemaps": [base_url + SITEMAP_PATH],
        "start_urls": [base_url + "/", base_url + "/archive/"],
        "backfill_pages": 0,
        "private_addresses": True,  # served on loopback
    }


def url_resolver(pages: Mapping[str, tuple[Role, Article, int]], bases: Mapping[str, str]) -> Callable[[str], str]:
    """Return a function giving the URL of a page id, from its role, post, post number and its site's base URL."""
    def url_of(page_id: str) -> str:
        role, article, number = pages[page_id]
        return bases[role.name] + PERMALINKS[role.permalink](article, number)
    return url_of
