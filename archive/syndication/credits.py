"""Pages that credit a site by name, with no URL: "Source: The Courier", "Read more at Free
Press Digest". Such a page is compared with that site's latest articles, and an article with
the latest pages crediting its site, whichever is archived first: a scraper's excerpt that
keeps a fifth of its source shares too little text for the LSH index to propose the pair.

A site is known by the names its pages and configuration give it (``site_names``): its
source's name ("digest"), the site name in its pages' metadata ("Free Press Digest"), and the
parts of a site name that metadata gave with a headline joined to it. A credit is keyed by
the name it gives and by each of that name's longer words, so a source configured as
"digest" is found by a page crediting "Free Press Digest".
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select

from archive.db.engine import upsert
from archive.db.models import Article, ArticleCitation, ArticleFingerprint, Capture, SiteName, Source
from archive.syndication.origin import attribution, cited_urls

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np
    from sqlalchemy.orm import Session

#: How many of a credited site's articles (the latest) a crediting page is compared with,
#: and how many crediting pages (the latest) an article of that site is compared with.
CREDITED = 100
#: Citation keys of site credits start with this; those of URLs are SURT keys.
PREFIX = "site:"
#: Longer "site names" are a page's headline or tagline that its metadata gave instead.
MAX_NAME = 60
#: What themes put between a site's name and a headline: "Free Press Digest: Title", "Title | Site".
_SEPARATOR = re.compile(r"\s+[|–—-]\s+|:\s+")
# Built once, as ``matching``'s reads for every article.
_SOURCE_NAMES = select(Source.id, Source.name).where(Source.id.in_(bindparam("ids", expanding=True)))
_NAMED = select(SiteName.name, SiteName.source_id).where(SiteName.name.in_(bindparam("names", expanding=True)))
_NAMES_OF = select(SiteName.name, SiteName.source_id).where(SiteName.source_id.in_(bindparam("ids", expanding=True)))
_LATEST_OF = (
    select(Article.id)
    .join(Capture, Capture.id == Article.capture_id)
    .join(ArticleFingerprint, ArticleFingerprint.article_id == Article.id)
    .where(Capture.source_id.in_(bindparam("ids", expanding=True)))
    .order_by(Article.id.desc())
    .limit(CREDITED)
)
_CREDITING = (
    select(ArticleCitation.article_id)
    .where(ArticleCitation.url_key.in_(bindparam("keys", expanding=True)))
    .order_by(ArticleCitation.article_id.desc())
    .limit(CREDITED)
)


def key(name: str) -> str:
    """The citation key of a site name."""
    return PREFIX + " ".join(name.casefold().split())


def credited(article: Article) -> set[str]:
    """The keys of the site a page credits by name with no URL: the name and its longer words."""
    phrase = attribution(article.text)
    if not phrase or cited_urls(article.text) or len(phrase) > 80:
        return set()
    return {key(phrase)} | {key(word) for word in re.findall(r"\w{4,}", phrase)}


def names(*given: str | None) -> set[str]:
    """The keys of the names a site goes by: each given name, and the parts of a name that
    metadata gave with a headline joined to it."""
    found = set()
    for name in filter(None, given):
        found.update(key(part) for part in (name, *_SEPARATOR.split(name)) if 3 <= len(part) <= MAX_NAME)
    return found


class SiteCredits:
    """One batch of articles: the sites its pages credit by name, and which articles each
    page is to be compared with, stored or earlier in the batch."""

    def __init__(self, session: Session, articles: list[Article], sources: dict[int, int]) -> None:
        self._session = session
        self._sources = {article.id: sources[article.id] for article in articles if article.id in sources}
        configured = dict(session.execute(_SOURCE_NAMES, {"ids": list(set(self._sources.values()))}).all())
        self._own = {
            article.id: names(configured.get(self._sources.get(article.id)), article.sitename) for article in articles
        }
        self.credits = {article.id: credited(article) for article in articles}
        wanted = set().union(*self.credits.values())
        named: dict[str, set[int]] = defaultdict(set)
        if wanted:
            for name, source_id in session.execute(_NAMED, {"names": list(wanted)}):
                named[name].add(source_id)
        for article_id, own in self._own.items():
            for name in own & wanted:
                named[name].add(self._sources[article_id])
        self._credited = {
            article_id: set().union(*(named.get(name, ()) for name in keys)) - {self._sources.get(article_id)}
            for article_id, keys in self.credits.items()
        }
        self._at_source: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
        self._crediting: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
        self._stored_names: set[tuple[str, int]] = set()  # read by ``stored``: not written again

    def stored(self) -> dict[int, set[int]]:
        """For each article, the stored articles of the sites it credits and the stored pages
        crediting its site (``CREDITED`` of each, the latest): a query per credited set of
        sites and per source of the batch whose names any page credits."""
        found: dict[int, set[int]] = {article_id: set() for article_id in self.credits}
        for sources, ids in _grouped(self._credited).items():
            latest = self._session.scalars(_LATEST_OF, {"ids": list(sources)}).all()
            for article_id in ids:
                found[article_id].update(latest)
        by_source: dict[int, set[str]] = defaultdict(set)
        for article_id, own in self._own.items():
            by_source[self._sources[article_id]] |= own
        for name, source_id in self._session.execute(_NAMES_OF, {"ids": list(by_source)}):
            by_source[source_id].add(name)
            self._stored_names.add((name, source_id))
        for source_id, keys in by_source.items():
            crediting = self._session.scalars(_CREDITING, {"keys": list(keys)}).all()
            for article_id, source in self._sources.items():
                if source == source_id:
                    found[article_id].update(crediting)
        return found

    def earlier(self, article_id: int) -> Iterable[tuple[int, np.ndarray]]:
        """The earlier articles of the batch of the sites this one credits, and those crediting its site."""
        for source_id in self._credited.get(article_id, ()):
            yield from self._at_source[source_id]
        if article_id in self._sources:
            yield from self._crediting[self._sources[article_id]]

    def add(self, article_id: int, shingles: np.ndarray) -> None:
        """Make an article of the batch a candidate for the later ones."""
        if article_id in self._sources:
            self._at_source[self._sources[article_id]].append((article_id, shingles))
        for source_id in self._credited.get(article_id, ()):
            self._crediting[source_id].append((article_id, shingles))

    def save(self, article_ids: Iterable[int]) -> None:
        """Store these articles' site credits and the names their sites go by."""
        ids = set(article_ids)
        self._session.add_all(
            ArticleCitation(url_key=name, article_id=article_id)
            for article_id in sorted(ids)
            for name in sorted(self.credits.get(article_id, ()))
        )
        known = sorted(
            {(name, self._sources[a]) for a, own in self._own.items() if a in ids and a in self._sources for name in own}
            - self._stored_names  # a site's names, stored with its first article: no statement for the next
        )
        if known:
            self._session.execute(
                upsert(self._session, SiteName).on_conflict_do_nothing(),
                [{"name": name, "source_id": source_id} for name, source_id in known],
            )


def _grouped(keys_of: dict[int, set[int]]) -> dict[frozenset[int], list[int]]:
    """Articles by their (non-empty) set of keys."""
    groups: dict[frozenset[int], list[int]] = defaultdict(list)
    for article_id, keys in keys_of.items():
        if keys:
            groups[frozenset(keys)].append(article_id)
    return groups
