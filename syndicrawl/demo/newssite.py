"""A news site of no known theme: the listing and pagination styles real sites use.

Each site lists its stories newest first in one of three markups (a plain ``<ul>`` of links,
cards with image, section, teaser and date, an ``<article>`` grid with headlines in ``<h3>``) and
reaches older ones through one of four pagers (a front page linking to ``/page/1/`` ... with
"Previous"/"Next" texts, a numbered ``?page=N`` pager, an "Older" link to ``/archive/N/``, an
infinite-scroll "Load more" fallback to ``?page=N``). It also has what a crawl must not store as
articles: section pages (also promoted in the content), tag and author pages, about and privacy
pages; menus, footers and "related" boxes are where real sites put them.

Stories carry their whole page (``Story.page``): ``article_page`` renders one, or a benchmark
brings real pages. Nothing here names a theme the crawler knows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from syndicrawl.demo.base import GeneratedSite, Resource
from syndicrawl.demo.render import escape, long_date, paginate, slugify

_HTML = "text/html; charset=UTF-8"
LAYOUTS = ("list", "cards", "grid")
PAGERS = ("all-pages", "numbered", "older", "load-more")
#: The site styles measured: a layout with a pager.
STYLES: Mapping[str, tuple[str, str]] = {
    "plain-list": ("list", "all-pages"),
    "cards-numbered": ("cards", "numbered"),
    "grid-older": ("grid", "older"),
    "cards-load-more": ("cards", "load-more"),
    "list-numbered": ("list", "numbered"),
}
SECTIONS = ("World", "Business", "Culture")


@dataclass(frozen=True)
class Story:
    """One article: where it lives, what listings show of it, and its whole page."""

    path: str
    title: str
    teaser: str
    published: datetime
    section: str
    tags: tuple[str, ...]
    page: bytes


def _frame(site: str, title: str, main: str, *, lang: str = "en") -> bytes:
    """A page of the site: header with its menu, the content, a footer."""
    menu = "".join(f'<li><a href="/{slugify(s)}/">{s}</a></li>' for s in SECTIONS)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width"></head><body>\n'
        f'<header class="masthead"><a class="logo" href="/">{escape(site)}</a>'
        f'<nav class="main-menu"><ul>{menu}<li><a href="/search?q=">Search</a></li></ul></nav></header>\n'
        f'<main id="content">{main}</main>\n'
        f'<footer class="site-footer"><a href="/about/">About us</a> · <a href="/privacy-policy/">Privacy policy</a>'
        f' · <a href="/feed/">RSS</a> · © {escape(site)}</footer>\n</body></html>\n'
    ).encode()


def article_page(site: str, title: str, author: str, published: datetime, paragraphs: Sequence[str],
                 related: Sequence[tuple[str, str]] = ()) -> bytes:
    """A story's page as plain news sites make it: headline, byline and date, body, related links."""
    body = "".join(f"<p>{escape(text)}</p>\n" for text in paragraphs)
    links = "".join(f'<li><a href="{path}">{escape(text)}</a></li>' for path, text in related)
    main = (
        f'<div class="story"><h1>{escape(title)}</h1>'
        f'<p class="byline">By <span class="author">{escape(author)}</span>, '
        f'<time datetime="{published.isoformat()}">{long_date(published)}</time></p>\n{body}</div>'
        f'<aside class="related"><h2>Related</h2><ul>{links}</ul></aside>'
    )
    return _frame(site, f"{title} | {site}", main)


def _item(layout: str, story: Story) -> str:
    title, path = escape(story.title), story.path
    if layout == "list":
        return f'<li><a href="{path}">{title}</a></li>'
    section = f'<a class="kicker" href="/{slugify(story.section)}/">{story.section}</a>'
    when = f'<time datetime="{story.published.isoformat()}">{long_date(story.published)}</time>'
    if layout == "cards":
        return (f'<div class="card"><a class="thumb" href="{path}"><img src="/img{path}.jpg" alt=""></a>{section}'
                f'<h2 class="card-title"><a href="{path}">{title}</a></h2><p>{escape(story.teaser)}</p>{when}'
                f' <a class="more" href="{path}">Read more</a></div>')
    return f'<article class="tile"><h3><a href="{path}">{title}</a></h3>{section}<p>{escape(story.teaser)}</p>{when}</article>'


def _listing(layout: str, stories: Sequence[Story]) -> str:
    items = "".join(_item(layout, story) for story in stories)
    return f'<ul class="headlines">{items}</ul>' if layout == "list" else f'<div class="stream">{items}</div>'


class NewsSite(GeneratedSite):
    """A news site at ``base_url`` in one of ``STYLES``, every page rendered at construction."""

    def __init__(self, name: str, stories: Sequence[Story], *, base_url: str, style: str, per_page: int = 20) -> None:
        super().__init__(base_url)
        self.name = name
        self.layout, self.pager = STYLES[style]
        self.stories = sorted(stories, key=lambda story: story.published, reverse=True)
        self.pages = paginate(self.stories, per_page)
        self._by_query: dict[int, bytes] = {}
        for story in self.stories:
            self.resources[story.path] = Resource(story.page, _HTML, story.published)
        for number, chunk in enumerate(self.pages, 1):
            self._add_listing_page(number, chunk)
        for section in SECTIONS:
            chosen = [story for story in self.stories if story.section == section][:per_page]
            self._add(f"/{slugify(section)}/", f"{section} | {name}", f"<h1>{section}</h1>{_listing(self.layout, chosen)}")
        for tag in sorted({tag for story in self.stories for tag in story.tags}):
            chosen = [story for story in self.stories if tag in story.tags][:per_page]
            self._add(f"/tag/{slugify(tag)}/", f"{tag} | {name}", f"<h1>Tagged {escape(tag)}</h1>{_listing(self.layout, chosen)}")
        about = " ".join(["We are an independent newsroom reporting from the city and the world since 1998."] * 8)
        self._add("/about/", f"About us | {name}", f"<h1>About us</h1><p>{about}</p><p>{about}</p>")
        privacy = " ".join(["We keep the data of our readers only as long as the law requires and never sell it."] * 8)
        self._add("/privacy-policy/", f"Privacy policy | {name}", f"<h1>Privacy policy</h1><p>{privacy}</p>")

    @property
    def story_urls(self) -> set[str]:
        return {self.base_url + story.path for story in self.stories}

    def _add(self, path: str, title: str, main: str) -> None:
        self.resources[path] = Resource(_frame(self.name, title, main), _HTML)

    def page_url(self, number: int) -> str:
        """The path of listing page ``number`` (1: the front page) in this site's pager."""
        if number == 1:
            return "/"
        return {"all-pages": f"/page/{number - 1}/", "older": f"/archive/{number}/"}.get(self.pager, f"/?page={number}")

    def _pager(self, number: int) -> str:
        last = len(self.pages)
        if self.pager == "all-pages" and number == 1:
            links = " ".join(f'<a href="/page/{n}/">{n}</a>' for n in range(1, last))
            return f'<div class="archive-pages">Archive: {links}</div>'
        if self.pager == "all-pages":
            older = f'<a href="{self.page_url(number + 1)}">Next »</a>' if number < last else ""
            return f'<div class="prevnext"><a href="{self.page_url(number - 1)}">« Previous</a> {older}</div>'
        if number == last:
            return ""
        if self.pager == "older":
            return f'<p class="older"><a href="{self.page_url(number + 1)}">Ältere Artikel ›</a></p>'
        if self.pager == "load-more":
            return f'<p><a class="button" href="{self.page_url(number + 1)}">Load more</a></p>'
        around = sorted({1, *range(max(1, number - 3), min(last, number + 3) + 1), last})
        links = " ".join(f"<span>{n}</span>" if n == number else f'<a href="{self.page_url(n)}">{n}</a>' for n in around)
        return f'<div class="page-list">{links}</div>'

    def _add_listing_page(self, number: int, stories: Sequence[Story]) -> None:
        promo = '<p class="promo"><a href="/world/">All the latest news from around the world</a></p>'
        main = f"{promo if number == 1 else ''}{_listing(self.layout, stories)}{self._pager(number)}"
        body = _frame(self.name, f"{self.name}" + (f" – page {number}" if number > 1 else ""), main)
        path = self.page_url(number)
        if path.startswith("/?page="):
            self._by_query[number] = body
        else:
            self.resources[path] = Resource(body, _HTML)

    def resolve(self, path: str, query: Mapping[str, list[str]]) -> Resource | None:
        """``/?page=N`` is page N of the front page; other pages ignore their query."""
        pages = query.get("page", [])
        if path == "/" and pages and pages[0].isdigit() and int(pages[0]) in self._by_query:
            return Resource(self._by_query[int(pages[0])], _HTML)
        found = self.resources.get(path)
        return found if isinstance(found, Resource) else None

    @property
    def listing_paths(self) -> list[str]:
        return [self.page_url(n) for n in range(1, len(self.pages) + 1)]
