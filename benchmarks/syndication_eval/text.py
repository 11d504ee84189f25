"""Words and word shingles: the one notion of "the same text" shared by the generator, baselines and tests.

Words are lower-cased runs of letters and digits, so typographic edits (curly or straight
quotes, dashes, spacing) and HTML markup never make two copies of a text look different.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from syndicrawl.demo.render import plain_text

_WORD = re.compile(r"\w+")

Shingles = frozenset[tuple[str, ...]]


def words(text: str) -> list[str]:
    """Return the words of `text`, case-folded."""
    return _WORD.findall(text.casefold())


def shingles(text: str, size: int = 5) -> Shingles:
    """Return the word `size`-shingles of `text`; a shorter text is one shingle."""
    tokens = words(text)
    if len(tokens) <= size:
        return frozenset([tuple(tokens)]) if tokens else frozenset()
    return frozenset(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def jaccard(a: Shingles, b: Shingles) -> float:
    """Return |a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def containment(part: Shingles, whole: Shingles) -> float:
    """Return the share of `part` found in `whole`: how much of `part` was kept in `whole`."""
    return len(part & whole) / len(part) if part else 0.0


def html_text(paragraphs: Iterable[str]) -> str:
    """Return the text of HTML paragraphs, one line each, as an extractor would see it."""
    return "\n".join(plain_text(paragraph) for paragraph in paragraphs)
