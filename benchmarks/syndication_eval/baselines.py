"""The two baselines, computed from the crawled database alone: what a naive detector gets right.

(1) Exact text: pages whose extracted text hashes the same (``articles.text_hash``) form a
cluster. (2) Near-duplicate text: pages whose word 5-shingle sets have a Jaccard similarity
of at least 0.5 are joined (union-find, so similarity chains merge clusters). In both, the
origin is the member with the earliest ``published`` value (a date without a time counts as
midnight UTC; no date counts as latest; ties go to the smaller URL) and every other member's
parent is the origin. Neither finds excerpts' sources.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

from benchmarks.syndication_eval.score import Predicted
from benchmarks.syndication_eval.text import jaccard, shingles

THRESHOLD = 0.5
_NEVER = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Article:
    """The latest successful extraction of one URL."""

    url: str
    text: str
    text_hash: str
    published: str | None


def load_articles(database: Path) -> list[Article]:
    """Read every URL's latest ``status = 'ok'`` article from a syndicrawl SQLite database."""
    query = """
        SELECT url, text, text_hash, published FROM articles
        WHERE id IN (SELECT max(id) FROM articles WHERE status = 'ok' GROUP BY url)
        ORDER BY url
    """
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return [Article(*row) for row in connection.execute(query)]


def published_at(value: str | None) -> datetime:
    """Order by publication: a bare date is midnight UTC, a missing or unreadable one comes last."""
    if not value:
        return _NEVER
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return _NEVER
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _predict(articles: Sequence[Article], groups: Iterable[list[int]]) -> dict[str, Predicted]:
    rows = {}
    for group in groups:
        members = sorted((articles[i] for i in group), key=lambda a: (published_at(a.published), a.url))
        origin = members[0].url
        cluster_id = f"baseline-{origin}"
        alone = len(members) == 1
        rows[origin] = Predicted(cluster_id, origin, None, "unique" if alone else "origin")
        rows.update({a.url: Predicted(cluster_id, origin, origin, "copy") for a in members[1:]})
    return rows


def exact_text(articles: Sequence[Article]) -> dict[str, Predicted]:
    """Baseline 1: one cluster per extracted-text hash."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, article in enumerate(articles):
        groups[article.text_hash].append(index)
    return _predict(articles, groups.values())


def near_duplicates(articles: Sequence[Article], threshold: float = THRESHOLD) -> dict[str, Predicted]:
    """Baseline 2: union-find over pairs with shingle Jaccard >= `threshold`.

    Only pairs sharing a shingle are compared (an inverted index finds them), which keeps
    the full set to seconds instead of comparing all pairs.
    """
    sets = [shingles(article.text) for article in articles]
    postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index, found in enumerate(sets):
        for shingle in found:
            postings[shingle].append(index)
    candidates = {pair for docs in postings.values() for pair in combinations(docs, 2)}
    parent = list(range(len(articles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in sorted(candidates):
        if jaccard(sets[a], sets[b]) >= threshold:
            parent[root(a)] = root(b)
    groups: dict[int, list[int]] = defaultdict(list)
    for index in range(len(articles)):
        groups[root(index)].append(index)
    return _predict(articles, groups.values())
