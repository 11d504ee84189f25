"""Matching and placement cost per article as a cluster grows (``dedup_scale.py --cluster-sizes``).

Each workload stores ``--cluster-articles`` articles in clusters of one size (1, 20, 200): an
origin on the author's site, then its copies, each on a site of its own, lightly edited as the
dev sets' reposts are (a dateline and byline on top, one word in 50 replaced, a paragraph
dropped in one copy of three), published a minute apart. Every article is stored and matched
in its own transaction, as the archive writer does for a page, and the CPU time of
``match_many`` (matching and placement) is recorded per article. Its fingerprint is computed
before, untimed, as the extraction workers compute it for the writer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

import numpy as np

from archive.db import catalog
from archive.db.engine import Database, sqlite_url
from archive.ingest.extract import text_hash
from archive.syndication import matching
from archive.syndication.neardup import NearDupIndex

_records = count()


def _copy_text(paragraphs: list[str], rng: np.random.Generator, words: list[str], site: int) -> str:
    """A light repost: the site's dateline and a byline on top, 2% of words replaced, maybe a paragraph dropped."""
    edited = []
    for paragraph in paragraphs:
        tokens = paragraph.split()
        for n in np.flatnonzero(rng.random(len(tokens)) < 0.02):
            tokens[n] = words[int(rng.integers(0, len(words)))]
        edited.append(" ".join(tokens))
    if len(edited) > 2 and rng.random() < 1 / 3:
        del edited[int(rng.integers(1, len(edited)))]
    return "\n".join([f"November 1, 2016 in News by Site{site} Staff", "by Stephen Example", *edited])


def _store(s, site: int, path: str, text: str, published: str):
    source = catalog.ensure_source(s, f"site{site}", "origin" if site == 0 else "repost")
    capture = catalog.add_capture(
        s, source_id=source.id, url=f"http://site{site}.test{path}", timestamp=catalog.utcnow(), status=200,
        mime="text/html", warc_file="bench.warc.gz", warc_offset=0, warc_length=1,
        record_id=f"<urn:uuid:bench-{next(_records)}>", payload_digest="sha1:A",
    )
    return catalog.add_article(
        s, capture_id=capture.id, url=capture.url, text=text, text_hash=text_hash(text), published=published
    )


def run(
    tmp: Path, size: int, articles: int, paragraphs_of: Callable[[int], list[str]], words: list[str], seed: int
) -> list[float]:
    """CPU ms of ``match_many`` for each article of ``articles`` stored in clusters of ``size``."""
    database = Database(sqlite_url(tmp))
    index = NearDupIndex(database)
    rng = np.random.default_rng([seed, 7, size])
    costs = []
    try:
        for cluster in range(max(1, articles // size)):
            paragraphs = paragraphs_of((cluster + 1) * 50)
            for member in range(size):
                text = "\n".join(paragraphs) if member == 0 else _copy_text(paragraphs, rng, words, member)
                published = f"2016-11-01T{member // 60 % 24:02d}:{member % 60:02d}:00+00:00"
                fp = matching.Fingerprint.of(text)  # by the extraction worker, before the writer matches
                with database.session() as s, s.begin():
                    article = _store(s, member, f"/{cluster}", text, published)
                    started = time.process_time()
                    matching.match_many(s, index, [(article, fp)])
                    costs.append((time.process_time() - started) * 1e3)
    finally:
        database.dispose()
    return costs
