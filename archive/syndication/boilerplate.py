"""Each site's own boilerplate, learned from the site: lines that recur across its articles.

The fixed patterns of ``fingerprint.BOILERPLATE_LINES`` know what reposts add everywhere
(datelines, bylines, credits). What one site adds is learned here: an aggregator that keeps
an author's box as plain paragraphs under every repost (where the author's own theme puts
it in a ``div.author-bio`` that extraction drops), a standing editor's note, a newsletter
pitch. On a short article such a block is a large share of one copy and none of the other,
and breaks the two-way copy test; with the site's boilerplate taken out, the texts compare.

Counts are per source: how many of its matched articles contain each line (by hash). They
grow in storage order, so ``dedup rebuild`` learns what the crawls learned.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select

from archive.db.engine import upsert_adding
from archive.db.models import SiteLine, Source
from archive.syndication.fingerprint import lines

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

#: A line in this many of a site's articles is the site's, not an article's.
REPEATS = 3
#: Lines shorter than this many words are not counted: the fixed patterns cover short
#: labels, and short lines ("Photo", "Related") recur by chance.
MIN_WORDS = 4
#: Line hashes per ``IN`` list (SQLite allows 32766 bound parameters).
_IN_CHUNK = 5000
#: Built once, as ``matching``'s reads for every article.
_STORED = select(SiteLine.source_id, SiteLine.line_hash, SiteLine.articles).where(
    SiteLine.source_id.in_(bindparam("sources", expanding=True)), SiteLine.line_hash.in_(bindparam("keys", expanding=True))
)


def line_hash(line: str) -> int:
    """A signed 64-bit hash of a normalised line, the same in every process."""
    return int.from_bytes(hashlib.blake2b(line.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


@lru_cache(maxsize=256)
def counted(text: str) -> dict[int, str]:
    """The lines of ``text`` that are counted, by hash (kept for the texts of a batch, which
    are counted, looked up and compared several times; not to be changed)."""
    return {line_hash(line): line for line in lines(text) if len(line.split()) >= MIN_WORDS}


class SiteLines:
    """The counts of one transaction: read from the database, added to in order, written by ``flush``.

    ``stored``: counts already read from the database (``prefetch``), shared by the
    instances that read the same state; ``kinds``: the kinds of sources known, read when missing.
    """

    def __init__(
        self, session: Session, stored: dict[tuple[int, int], int] | None = None, kinds: dict[int, str] | None = None
    ) -> None:
        self._session = session
        self._added: Counter[tuple[int, int]] = Counter()
        self._kinds = {} if kinds is None else kinds
        self.stored = {} if stored is None else stored

    def prefetch(self, texts: Iterable[tuple[int | None, str]]) -> None:
        """Read the stored counts of all these texts' lines at once (a batch's, or the members
        a new article is compared with, each on its own site)."""
        self._fetch({(source_id, key) for source_id, text in texts if source_id is not None for key in counted(text)})

    def _fetch(self, wanted: Iterable[tuple[int, int]]) -> None:
        """Read the stored counts of these (source, line hash) not read yet: one statement a
        chunk of hashes, the pairs of other sources it also finds kept as well."""
        missing = sorted(pair for pair in wanted if pair not in self.stored)
        self.stored.update(dict.fromkeys(missing, 0))
        sources = sorted({source_id for source_id, _ in missing})
        for start in range(0, len(missing), _IN_CHUNK):
            keys = list({key for _, key in missing[start : start + _IN_CHUNK]})
            for source_id, key, n in self._session.execute(_STORED, {"sources": sources, "keys": keys}):
                self.stored[source_id, key] = n

    def add(self, source_id: int | None, text: str, sign: int = 1) -> None:
        """Count (or, with ``sign`` -1, uncount) the lines of one article of ``source_id``."""
        if source_id is not None:
            self._added.update({(source_id, key): sign for key in counted(text)})

    def learned(self, source_id: int | None, text: str) -> set[int]:
        """The lines of ``text`` (by hash) that became its site's boilerplate when it was
        counted: those it is the ``REPEATS``-th article to contain."""
        found = counted(text)
        if source_id is None or not found or self._kind(source_id) == "origin":
            return set()
        return {key for key, n in self._counts(source_id, found).items() if n == REPEATS}

    def repeated(self, source_id: int | None, text: str) -> frozenset[str]:
        """The lines of ``text`` (as ``fingerprint.lines`` folds them) that its site repeats.

        Whatever share of the text they are: a theme whose comment section extraction keeps
        gives pages that are nine tenths the same comments. None when every counted line
        repeats: that is one article the site posted at several addresses, not boilerplate.
        None on an author's own site (kind ``origin``): the sign-off under each of its
        articles is part of the article as published, and what a scraper's excerpt keeps of
        it is measured against the whole.
        """
        found = counted(text)
        if source_id is None or not found or self._kind(source_id) == "origin":
            return frozenset()
        repeated = {key for key, n in self._counts(source_id, found).items() if n >= REPEATS}
        if repeated == found.keys():
            return frozenset()
        return frozenset(found[key] for key in repeated)

    def _kind(self, source_id: int) -> str:
        if source_id not in self._kinds:
            source = self._session.get(Source, source_id)
            self._kinds[source_id] = source.kind if source is not None else "unknown"
        return self._kinds[source_id]

    def _counts(self, source_id: int, keys: dict[int, str]) -> Counter[int]:
        self._fetch((source_id, key) for key in keys)
        counts: Counter[int] = Counter({key: self.stored[source_id, key] for key in keys})
        counts.update({key: self._added[source_id, key] for key in keys if (source_id, key) in self._added})
        return counts

    def flush(self) -> None:
        """Write the counts added since the last flush."""
        rows = [{"source_id": s, "line_hash": k, "articles": n} for (s, k), n in self._added.items() if n]
        for row in rows:  # what is written is what is stored now
            key = (row["source_id"], row["line_hash"])
            if key in self.stored:
                self.stored[key] += row["articles"]
        if rows:  # through Core: the ORM's bulk path spent more on each row than SQLite did
            self._session.connection().execute(
                upsert_adding(self._session, SiteLine.__table__, ("source_id", "line_hash"), ("articles",)), rows
            )
        self._added.clear()


def without(text: str, drop: frozenset[str] | set[str]) -> str:
    """The folded lines of ``text`` less those in ``drop``."""
    return "\n".join(line for line in lines(text) if line not in drop)
