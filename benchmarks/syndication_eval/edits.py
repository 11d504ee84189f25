"""How a page's text changes when it is copied: the edits repost sites and scrapers make.

Modelled on real reposts: a "by AUTHOR" line on top, links removed with their text (so
"He can be reached at" ends in nothing), the author's bio cut or replaced by the site's own
note, a credit line now and then, a changed title, a dropped paragraph, straightened quotes.
A repost of a repost starts from its parent's version, keeping the parent's lines and edits,
which is what makes the parent identifiable. A scraper's excerpt keeps the first part only.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, replace
from html import escape

from benchmarks.syndication_eval.text import containment, html_text, shingles, words
from syndicrawl.demo.articles import strip_links
from syndicrawl.demo.render import plain_text

# Copies keep at least this share of the origin's shingles (the lead's rule is 60%).
MIN_KEPT = 0.7
# Excerpts keep at most this share of their source's words.
EXCERPT_SHARE = 0.45

_STRAIGHT = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "--", "…": "..."})
_TEXT_RUN = re.compile(r"[^<>]+(?=<|$)")
_TITLE_EDITS = (
    lambda title, author: f"Opinion: {title}",
    lambda title, author: f"{title} | {author}",
    lambda title, author: string.capwords(title),
)


@dataclass(frozen=True)
class Version:
    """A text as one page shows it: title, HTML paragraphs and writer.

    `top` counts the opening lines reposts added (headers, kept by every later copy), `footer`
    the closing paragraphs that are the author's bio.
    """

    title: str
    paragraphs: tuple[str, ...]
    author: str
    top: int = 0
    footer: int = 0

    @property
    def text(self) -> str:
        return html_text(self.paragraphs)


@dataclass(frozen=True)
class Habits:
    """What one repost does: the site's lines (already filled in) and the edits drawn for this copy."""

    header: str
    credit: str
    note: str
    strips_links: bool
    scraped_header: str = ""


def link_words(paragraph: str, rng: random.Random, href: str) -> str:
    """Wrap three words of a plain paragraph in a link, as authors link their sources."""
    tokens = paragraph.split(" ")
    if len(tokens) < 8:
        return paragraph
    start = rng.randrange(2, len(tokens) - 4)
    linked = " ".join(tokens[start : start + 3])
    return " ".join([*tokens[:start], f'<a href="{escape(href)}">{linked}</a>', *tokens[start + 3 :]])


def typography(paragraph: str) -> str:
    """Straighten quotes and dashes in the text (never inside tags), as many CMS imports do."""
    return _TEXT_RUN.sub(lambda match: match.group().translate(_STRAIGHT).replace(". ", ".  "), paragraph)


def repost(parent: Version, origin: Version, habits: Habits, rng: random.Random) -> Version:
    """Return the version a repost site makes of `parent`; it keeps at least MIN_KEPT of `origin`.

    Edits are drawn first, then the ones that remove text are given up, most damaging first,
    while the copy would keep too little of the origin.
    """
    cut_footer = parent.footer > 0 and rng.random() < 0.4
    # Never the first paragraph of the text, nor a line some repost put on top: those stay.
    body_end = len(parent.paragraphs) - max(parent.footer, 1)
    drop = body_end - parent.top >= 5 and rng.random() < 0.35
    dropped = rng.randrange(parent.top + 1, body_end) if drop else -1
    add_note = bool(habits.note) and rng.random() < 0.3
    straighten = rng.random() < 0.4
    title_edit = rng.choice(_TITLE_EDITS) if rng.random() < 0.25 else None
    add_credit = bool(habits.credit) and rng.random() < 0.35
    wanted = shingles(origin.text)
    for dropping, cutting in ((drop, cut_footer), (False, cut_footer), (False, False)):
        body = list(parent.paragraphs)
        if cutting:
            body = body[: -parent.footer]
        if dropping:
            del body[dropped]
        if habits.strips_links:
            body = [p for p in (strip_links(p).strip() for p in body) if plain_text(p)]
        if straighten:
            body = [typography(p) for p in body]
        if add_note:
            body.append(habits.note)
        if add_credit:
            body.append(habits.credit)
        top = [line for line in (habits.header, habits.scraped_header) if line]
        copy = Version(
            title_edit(parent.title, parent.author) if title_edit else parent.title,
            (*top, *body),
            parent.author,
            len(top) + parent.top,
        )
        if containment(wanted, shingles(copy.text)) >= MIN_KEPT:
            return copy
    raise ValueError(f"a copy of {origin.title!r} keeps less than {MIN_KEPT:.0%} of it even without edits")


def excerpt(source: Version, read_more: str) -> Version:
    """Return a scraper's excerpt of `source`: its first part, at most EXCERPT_SHARE of its words, links gone."""
    budget = int(EXCERPT_SHARE * len(words(source.text)))
    kept: list[str] = []
    used = 0
    for paragraph in source.paragraphs:
        size = len(words(plain_text(paragraph)))
        if used + size > budget:
            if used < budget // 2:
                # A long paragraph: cut inside it, as scrapers cut at a word count.
                head = plain_text(paragraph).split(" ")[: budget - used]
                kept.append(escape(" ".join(head), quote=False) + " …")
            break
        kept.append(strip_links(paragraph).strip())
        used += size
    return replace(source, paragraphs=(*kept, read_more), footer=0)
