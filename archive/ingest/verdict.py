"""Whether an extracted page is an article, judged on the page: its links are no evidence.

A crawl that finds articles by a site's structure also reaches its home, section and tag pages,
and ``import`` of a whole site's WARC brings them all; trafilatura extracts text from them too
(the headlines and teasers of a listing). Such a page stays a capture, and the reason it is not
an article is recorded with it: the article row's status ``not_article``, ``NotAnArticle``'s message its error.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from lxml import etree

if TYPE_CHECKING:
    from lxml.html import HtmlElement

#: Share of the text's characters in lines that are link texts, above which it is a list of links.
LINKED_SHARE = 0.5
#: A line this long is running text, not a link's text: across the 109 real pages of the corpus the
#: longest link text that was also a line of the extracted text had 164 characters (a headline
#: in pcgamer.com's related box); longer link texts (dw.com's, sueddeutsche.de's teasers linked
#: whole) are never one extracted line. A page with half its text in such lines is no list of
#: links, and its links are not read (they cost most of the verdict's time).
LINK_LINE_CHARS = 300
#: A listing: at least this many teasers (the block around a headline that links to another page:
#: a card, a grid tile, a list item), and more than half of the text in them. WordPress shows 3
#: posts a page in the project's fixture sites, 10 by default.
LISTING_TEASERS = 3
TEASER_SHARE = 0.5
#: A block this long is no teaser but an article with a headline linking elsewhere in it.
TEASER_CHARS = 1500
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_OG_TYPE = etree.XPath('//meta[@property="og:type"]/@content')
#: Where pages put it (a child path, read without walking the page: ``_OG_TYPE`` walks it all).
_HEAD_OG_TYPE = etree.XPath('/html/head/meta[@property="og:type"]/@content')
#: Words (or characters, in scripts written without spaces) that make a heading a headline, not a
#: section's label (netzpolitik.org's article sits in one block with its section's "Wissen" heading).
HEADLINE_WORDS = 3
HEADLINE_CHARS = 8
#: Types a page declares (Open Graph ``og:type``, JSON-LD ``@type``) that make it an article.
ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "reviewnewsarticle", "backgroundnewsarticle", "scholarlyarticle", "techarticle", "report", "liveblogposting",
})


def _line(text: str) -> str:
    return " ".join(text.split())


def _declared_og_article(tree: HtmlElement, where: etree.XPath) -> bool:
    """Whether the ``og:type`` metas ``where`` finds say article."""
    return any(value.strip().lower() == "article" for value in where(tree))


def declared_article(tree: HtmlElement) -> bool:
    """Whether the page says it is one article (``og:type`` article, a JSON-LD Article type)."""
    if _declared_og_article(tree, _OG_TYPE):
        return True
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            document = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        nodes = document if isinstance(document, list) else [document]
        nodes += [n for node in nodes if isinstance(node, dict) for n in node.get("@graph", []) if isinstance(n, dict)]
        for node in nodes:
            kinds = node.get("@type") if isinstance(node, dict) else None
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(isinstance(kind, str) and kind.lower() in ARTICLE_TYPES for kind in kinds):
                return True
    return False


def _is_headline(text: str) -> bool:
    return len(text.split()) >= HEADLINE_WORDS or (not text.isascii() and len(text) >= HEADLINE_CHARS)


def _target(link: HtmlElement, url: str) -> str | None:
    href = (link.get("href") or "").split("#")[0].strip()
    try:
        return urljoin(url, href) if href else None
    except ValueError:  # 'http://[x': no link anywhere
        return None


def _link_texts(tree: HtmlElement) -> set[str]:
    """The texts of the page's links to another page or resource (not to an anchor of its own).

    Walked in Python rather than by XPath (``//a[@href]`` cost twice as much), a link holding
    no element read as its text node."""
    texts = set()
    for link in tree.iter("a"):
        href = link.get("href")
        if href is None or href.startswith("#"):
            continue
        texts.add(_line((link.text or "") if len(link) == 0 else link.text_content()))
    return texts


def _heading_links(tree: HtmlElement) -> list[HtmlElement]:
    """Links in a heading, or holding one (a card's whole-card link), in page order."""
    found: dict[HtmlElement, None] = {}
    for heading in tree.iter(*_HEADINGS):
        found.update(dict.fromkeys(heading.iterancestors("a")))
        found.update(dict.fromkeys(heading.iter("a")))
    return [link for link in found if link.get("href")]


def teasers(tree: HtmlElement, url: str) -> list[str]:
    """The texts of the page's teasers: around each headline that links to another page, the
    largest block holding no other such headline (a card, a grid tile, a list item), if short."""
    itself = url.split("#")[0]
    heads = [
        link for link in _heading_links(tree)
        if _is_headline(_line(link.text_content())) and _target(link, url) not in {None, itself}
    ]
    if len(heads) < LISTING_TEASERS:
        return []  # too few for a listing, whatever their blocks
    holding = Counter(element for link in heads for element in link.iterancestors())
    blocks = []
    for link in heads:
        block = link
        for element in link.iterancestors():
            if holding[element] > 1:
                break
            block = element
        text = _line(block.text_content())
        if len(text) <= TEASER_CHARS:
            blocks.append(text)
    return blocks


def not_an_article(text: str, tree: HtmlElement, url: str) -> str | None:
    """Why the page ``text`` was extracted from is not an article, or None if it is one.

    - a list of links: most of the text is link texts (an archive, a section page as a plain
      list of headlines, a tag cloud);
    - a listing: most of the text is in teasers, blocks each around a heading that links to
      another page (a home, section or tag page of cards or of an ``<article>`` grid; trafilatura
      gave one tile's headline and every tile's teaser), unless the page declares itself an article.

    This runs on every page extracted, so the cheap evidence goes first: a page with half its
    text in lines too long to be link texts (``LINK_LINE_CHARS``) has its links left unread, and
    one declaring itself an article in its head has its teasers left unlooked for.
    """
    lines = [line for line in map(_line, text.splitlines()) if line]
    total = sum(map(len, lines))
    running = sum(len(line) for line in lines if len(line) > LINK_LINE_CHARS)
    if running < (1 - LINKED_SHARE) * total:
        link_texts = _link_texts(tree)
        linked = sum(len(line) for line in lines if line in link_texts)
        if linked > LINKED_SHARE * total:
            return f"a list of links ({linked} of its {total} characters are link text)"
    if _declared_og_article(tree, _HEAD_OG_TYPE):
        return None  # the page says it is an article: no listing (most do, and teasers cost the most)
    blocks = teasers(tree, url)
    if len(blocks) >= LISTING_TEASERS:
        joined = "\n".join(blocks)
        teased = sum(len(line) for line in lines if line in joined)
        if teased > TEASER_SHARE * total and not declared_article(tree):
            return f"a listing ({teased} of its {total} characters are in {len(blocks)} teasers linking to other pages)"
    return None
