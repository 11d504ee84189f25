"""Article links and older listing pages found by a page's structure, for sites of no known theme.

``crawler.links`` knows the WordPress and Blogger themes; most news sites and repost blogs use
neither (a plain site listing its articles as ``<li><a>`` over ``/page/1/`` ... ``/page/20/`` gave
the feed's 50 entries and nothing else). Here a link leads to an article when it is in the
source's scope, not a navigation, tag, author, search, feed or file URL (courlan's classification),
not in the page's chrome (menus, header, footer, sidebar) and reads like a headline, or repeats
the markup of headline links around it (a list, cards, an ``<article>`` grid). A link leads to an
older listing page when it says so (``rel=next``, "older"/"next"/"»" in many languages) or when
it is the same listing's page number (``/page/N/``, ``?page=N``, a pager's ``/N/``).

Which of the pages reached are articles is the page's own extraction's call
(``archive.ingest.verdict``): a link taken here that leads to a section index costs one request.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import is_navigation_page, is_not_crawlable
from courlan.filters import extension_filter, path_filter, type_filter

from crawler.scope import in_scope

if TYPE_CHECKING:
    from collections.abc import Iterator

    from lxml.html import HtmlElement
    from scrapy.http import TextResponse

#: Elements whose links are the site's chrome, unless inside the page's <article> or <main>.
CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "form"})
CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
#: Words of class and id values that name chrome ("main-menu", "site_footer", "sidebar").
CHROME_WORDS = frozenset({
    "nav", "navbar", "navigation", "menu", "header", "footer", "sidebar", "breadcrumb", "breadcrumbs",
    "widget", "share", "social", "comments", "pagination", "pager", "tags", "tagcloud",
})
#: A headline: this many words, or characters in scripts written without spaces (CJK, Thai).
HEADLINE_WORDS = 3
HEADLINE_CHARS = 8
#: Links sharing one markup path with at least this many others are a listing's block.
BLOCK_LINKS = 3
#: Texts of a link to the next-older page, lower-case, without arrows and punctuation. Not "more"
#: ("Load more", "Read more"): on cards it leads to the article; a "Load more" fallback's
#: ``?page=N`` is a page number.
OLDER_TEXTS = frozenset({
    "next", "next page", "older", "older posts", "older entries", "older articles", "older stories", "earlier",
    "weiter", "nächste", "nächste seite", "ältere", "ältere beiträge", "ältere artikel", "ältere einträge",
    "vorwärts", "suivant", "suivante", "page suivante", "plus anciens", "articles plus anciens",
    "articles précédents", "anciens articles", "siguiente", "página siguiente", "anteriores",
    "entradas anteriores", "successivo", "successiva", "pagina successiva", "articoli precedenti", "próxima",
    "próxima página", "mais antigas", "volgende", "oudere berichten", "oudere", "następna", "starsze",
    "starsze wpisy", "следующая", "далее", "раньше", "sonraki", "nästa", "äldre", "äldre inlägg", "næste",
    "ældre", "neste", "eldre", "seuraava", "vanhemmat", "další", "starší", "következő", "régebbi", "επόμενη",
    "παλαιότερα", "التالي", "הבא", "次へ", "次", "次のページ", "下一页", "下一頁", "다음", "tiếp", "berikutnya",
})
_ARROWS = "»›→>⟩⇨▸▶⏩〉"
_TRIM = f" \t\n\r.…:|·•{_ARROWS}«‹←<"
#: A listing's page number in its URL: ``/page/N/`` (or seite, pagina...), or a query parameter.
_PAGE_PATH = re.compile(r"/(?:page|seite|pagina|pagine|strona|sayfa|sivu|side|pg)[/_-]?(\d{1,5})(?=/?$)", re.I)
_PAGE_PARAMS = frozenset({"page", "pg", "paged", "pagina", "seite", "pagenum", "page_no", "pn"})
_NUMBER_PATH = re.compile(r"/(\d{1,5})/?$")
#: Feeds, search and account pages courlan lets through (it knows "/feed", "/search/", "/login").
_NOT_ARTICLES = re.compile(
    r"/(?:feed|rss|atom|search|suche|recherche|buscar|cerca|register|signup|subscribe|newsletter)(?:/|\.\w+)?$", re.I
)


@dataclass(frozen=True)
class PageNumber:
    """Where a URL's page number sits, and the listing's URL with it taken out."""

    listing: str
    number: int
    explicit: bool  # /page/N/ or ?page=N; a bare /N/ is a page only when its link's text is N


def page_number(url: str) -> PageNumber | None:
    """The page number ``url`` names, if any (``/page/3/``, ``?page=3``, ``/news/3/``)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for i, (key, value) in enumerate(query):
        if key.lower() in _PAGE_PARAMS and value.isdigit():
            rest = urlencode(query[:i] + query[i + 1 :])
            return PageNumber(urlunsplit(parts._replace(query=rest, fragment="")), int(value), explicit=True)
    for pattern, explicit in ((_PAGE_PATH, True), (_NUMBER_PATH, False)):
        found = pattern.search(parts.path)
        if found:
            path = parts.path[: found.start()] + "/"
            return PageNumber(urlunsplit(parts._replace(path=path, fragment="")), int(found.group(1)), explicit)
    return None


def listing_of(url: str) -> str:
    """The listing ``url`` is a page of: itself without its page number, and without a fragment."""
    found = page_number(url)
    return found.listing if found is not None else urlunsplit(urlsplit(url)._replace(fragment=""))


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def is_headline(text: str) -> bool:
    """Whether a link's text reads like an article's title rather than a menu label or "More"."""
    words = [word for word in text.split() if any(c.isalnum() for c in word)]  # "Older posts »" is two
    if len(words) >= HEADLINE_WORDS:
        return True
    return not text.isascii() and len(text) >= HEADLINE_CHARS and not any(c.isascii() and c.isalpha() for c in text)


def _words(value: str) -> set[str]:
    return set(re.split(r"[\s_-]+", value.lower()))


def in_chrome(link: HtmlElement) -> bool:
    """Whether a link sits in the page's menus, header, footer or sidebar, not in its content."""
    for element in link.iterancestors():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in {"article", "main"} or element.get("role") == "main":
            return False
        if tag in CHROME_TAGS or element.get("role") in CHROME_ROLES:
            return True
        if _words(f"{element.get('class', '')} {element.get('id', '')}") & CHROME_WORDS:
            return True
    return False


def _path(link: HtmlElement) -> str:
    """The link's markup path (tags and classes up to <body>): the links of one listing share it."""
    steps = []
    for element in (link, *link.iterancestors()):
        if element.tag == "body":
            break
        steps.append(f"{element.tag}.{'.'.join(sorted(element.get('class', '').split()))}")
    return "/".join(reversed(steps))


def _links(root: HtmlElement, response: TextResponse) -> Iterator[tuple[HtmlElement, str]]:
    """Every http(s) <a href> of the page with its absolute URL, fragment dropped."""
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        if href and not href.startswith(("#", "javascript:", "mailto:", "tel:")):
            try:
                url = response.urljoin(href)
            except ValueError:  # 'http://[x': not a URL
                continue
            parts = urlsplit(url)
            if parts.scheme in {"http", "https"}:
                yield link, urlunsplit(parts._replace(fragment=""))


def _leads_to_article(url: str) -> bool:
    """Not the home page, nor a navigation, tag, author, archive, search, feed, login or file URL
    (courlan's classification), nor a listing's page."""
    parts = urlsplit(url)
    number = page_number(url)
    return (
        parts.path.strip("/") != ""
        and not _NOT_ARTICLES.search(parts.path)
        and not is_navigation_page(url)
        and not is_not_crawlable(url)
        and type_filter(url, strict=True)
        and extension_filter(parts.path)
        and path_filter(parts.path, parts.query)
        and (number is None or not number.explicit)
    )


def article_links(response: TextResponse, domains: tuple[str, ...]) -> list[str]:
    """Links of a listing page that lead to articles of the same source, in page order."""
    root = response.selector.root
    here = listing_of(response.url)
    candidates = []
    for link, url in _links(root, response):
        if url == here or not in_scope(url, domains) or in_chrome(link):
            continue
        if _says_older(link) or _pager_number(link, url, here):  # the listing's own pages
            continue
        if _leads_to_article(url):
            candidates.append((url, _text(link), _path(link)))
    # A listing's block: several links sharing a markup path, most of them headlines.
    headlines = Counter(path for _, text, path in candidates if is_headline(text))
    links = Counter(path for _, _, path in candidates)
    blocks = {path for path, n in links.items() if n >= BLOCK_LINKS and 2 * headlines[path] >= n}
    return list(dict.fromkeys(url for url, text, path in candidates if is_headline(text) or path in blocks))


def _pager_number(link: HtmlElement, url: str, here: str) -> int | None:
    """The page number of listing ``here`` that ``link`` leads to, if it does: ``/page/N/`` or
    ``?page=N``, or a bare ``/N/`` whose link says N (else ``/news/123`` is an article's ID)."""
    number = page_number(url)
    if number is None or number.listing != here:
        return None
    return number.number if number.explicit or _text(link) == str(number.number) else None


def _says_older(link: HtmlElement) -> bool:
    if "next" in link.get("rel", "").lower().split():
        return True
    label = " ".join(filter(None, (_text(link), link.get("aria-label"), link.get("title"))))
    text = label.lower().strip(_TRIM)
    if text in OLDER_TEXTS:
        return True
    return not text and bool(_text(link)) and all(c in _ARROWS or c.isspace() for c in _text(link))


def older_pages(response: TextResponse, domains: tuple[str, ...], page: int) -> list[tuple[str, int]]:
    """Older pages of the listing ``response`` is, as (URL, its number of hops from the first page).

    ``page`` is ``response``'s own number. A page number N is page N - 1 from the first, never
    less than ``page + 1`` (a numbered pager links to every page); a link saying "next" or
    "older" is ``page + 1``.
    """
    root = response.selector.root
    itself = urlunsplit(urlsplit(response.url)._replace(fragment=""))
    here = listing_of(itself)
    found: dict[str, int] = {}
    for link, url in _links(root, response):
        if url == itself or not in_scope(url, domains):
            continue
        number = _pager_number(link, url, here)
        if _says_older(link):
            found.setdefault(url, page + 1)
        elif number is not None:
            found.setdefault(url, max(page + 1, number - 1))
    return list(found.items())
