"""Word-level alignment of two texts: how much of each the other keeps, and what each changed.

Shingles (``fingerprint``) find candidates fast but measure edits, not text: a repost that
strips ten links loses up to fifty 5-shingles but only ten words, so near the copy/excerpt
line a shingle share can be 0.04 off the share of text kept. Here the two token sequences
are aligned (rapidfuzz's longest common subsequence, in C) and shares are counted in
characters of the matched words, which is what "keeps 60 % of the text" means. (The longest
common subsequence also pairs words of unrelated texts one by one, "the" with "the": 2-14 %
of two unrelated 1,000-word texts, where difflib's blocks found 0-2 %; such pairs never get
here, their shingle shares settle them, and both dev sets score the same with either.)

The same alignment against a cluster's origin gives a copy's edits (``Edits``): the origin's
words it deleted and the words it inserted where. A copy of a copy inherits its parent's
edits, which is how a parent is told apart from its siblings when nobody is credited.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate

from rapidfuzz.distance import Indel

from archive.syndication.fingerprint import is_boilerplate, lines, tokens

#: Where two texts' shared part must begin for them to be one article: within this many
#: words, or this share, of the start of each (whichever is more). A repost keeps the lead
#: and a scraper cuts its excerpt from it; two short notes that share only the author's bio
#: below them, or two articles quoting one statement, share text that starts further in.
LEAD_WORDS = 12
LEAD_SHARE = 0.1
#: A shared run shorter than this ("the", "of the") says nothing about where the texts meet.
_RUN = 5
#: In a copy's edits, words both keep in runs shorter than this are edited too: the longest
#: common subsequence keeps a "the" of a dropped paragraph matched with one of an added line,
#: which splits the paragraph cut that tells a parent (difflib, which ``edits`` used before,
#: seeds no match with such words; with them kept, one parent of the first dev set's 306 moved).
_EDIT_RUN = 3
#: Share of what an excerpt lacks of its source that lies after the part it kept.
CUT = 0.75


@dataclass(frozen=True, slots=True)
class Shares:
    """``contained``: share of A's text found, in order, in B; ``covered``: of B's in A;
    ``lead``: whether the shared text starts at the lead of both (``LEAD_WORDS``).

    A share is the mean of the share of characters and the share of words: "keeps 60 % of
    the text" is said of either, and near the line they differ by up to 0.02 (a scraper's
    cut of 59 % of the words can keep 60 % of the characters), so the decision there rests
    on both rather than on whichever the line was drawn with.
    """

    contained: float
    covered: float
    lead: bool = True
    #: Share of A's and of B's text after the last run they share: what a cut left out.
    tails: tuple[float, float] = (0.0, 0.0)

    def cut_from_b(self) -> bool:
        """Whether A is B's first part: most of what A lacks of B is B's end (``CUT``), as
        a scraper's "first half, then Read more" is, and a copy of a copy, which lost a
        little everywhere (links, a paragraph, the bio), is not."""
        return self.tails[1] >= CUT * (1 - self.covered)

    def cut_from_a(self) -> bool:
        """Whether B is A's first part (``cut_from_b`` the other way)."""
        return self.tails[0] >= CUT * (1 - self.contained)


def kept(words: list[str], runs: list[tuple[int, int]]) -> float:
    """Mean of the shares of characters and of words of ``words`` inside ``runs``."""
    return _kept(_offsets(words), runs)


def _offsets(words: list[str]) -> list[int]:
    """Where each word starts in the text of ``words`` and where it ends (a word and the space after it)."""
    return [0, *accumulate(len(word) + 1 for word in words)]


def _kept(offsets: list[int], runs: Iterable[tuple[int, int]]) -> float:
    runs = list(runs)
    chars = sum(offsets[end] - offsets[start] for start, end in runs) / offsets[-1]
    return (chars + sum(end - start for start, end in runs) / (len(offsets) - 1)) / 2


@functools.lru_cache(maxsize=64)
def _aligned(text: str) -> tuple[list[str], list[int]]:
    """A text's words and their offsets: an article is aligned with each of its candidates in turn."""
    words = tokens(text)
    return words, _offsets(words)


def word_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """An optimal (longest common subsequence) alignment of two word lists, as difflib-style
    opcodes ("equal", "delete", "insert"; a replacement is a delete beside an insert).

    For showing edits: rapidfuzz's C alignment of two 2,000-word texts takes 0.5 ms where
    difflib's takes 3 ms, and keeps the same share of the text.
    """
    return [(op.tag, op.src_start, op.src_end, op.dest_start, op.dest_end) for op in Indel.opcodes(a, b)]


def shares(a: str, b: str) -> Shares:
    """Align the matching texts of ``a`` and ``b`` and return the share of each kept in the other."""
    (words_a, offsets_a), (words_b, offsets_b) = _aligned(a), _aligned(b)
    if not words_a or not words_b:
        return Shares(0.0, 0.0)
    # 20 times faster than difflib's blocks (1.5 ms for two 500-word texts), which made a
    # third of matching's cost in clusters of 20 copies; both dev sets score the same.
    blocks = Indel.opcodes(words_a, words_b).as_matching_blocks()
    runs = [block for block in blocks if block.size >= _RUN]
    lead = bool(runs) and runs[0].a <= _lead(len(words_a)) and runs[0].b <= _lead(len(words_b))
    end_a, end_b = (runs[-1].a + runs[-1].size, runs[-1].b + runs[-1].size) if runs else (0, 0)
    return Shares(
        _kept(offsets_a, ((block.a, block.a + block.size) for block in blocks)),
        _kept(offsets_b, ((block.b, block.b + block.size) for block in blocks)),
        lead,
        (_kept(offsets_a, [(end_a, len(words_a))]), _kept(offsets_b, [(end_b, len(words_b))])),
    )


#: Share of each first line the other's must keep for two texts to start alike.
SAME_START = 0.8


def same_start(a: str, b: str) -> bool:
    """Whether the first lines of two texts' article text (boilerplate lines left out) are one line."""
    first = [next((line for line in lines(text) if not is_boilerplate(line)), "") for text in (a, b)]
    kept = shares(*first)
    return min(kept.contained, kept.covered) >= SAME_START


def _lead(words: int) -> int:
    return max(LEAD_WORDS, int(words * LEAD_SHARE))


#: A run of dropped words at least this long, inside the text, is an editor's choice (a
#: paragraph cut); shorter runs are what every aggregator that strips links drops alike,
#: and a run that reaches the end is the footer or bio that many sites cut.
PARAGRAPH = 12


@dataclass(frozen=True, slots=True)
class Edits:
    """What a copy changed in the origin's text: origin word positions it deleted, the runs
    they form, and (origin position, inserted words) for each run of words it added."""

    deleted: frozenset[int]
    runs: frozenset[tuple[int, int]]
    inserted: frozenset[tuple[int, tuple[str, ...]]]
    length: int

    def __len__(self) -> int:
        return len(self.deleted) + len(self.inserted)

    def shared_with(self, other: Edits) -> int:
        """How many of these edits ``other`` made too."""
        return len(self.deleted & other.deleted) + len(self.inserted & other.inserted)

    def telling(self, other: Edits) -> int:
        """How many of the edits both made no two sites make independently: words added (a
        note, a credit), and paragraphs dropped from inside the text when two or more are
        (two reposts that each drop one of five paragraphs drop the same one a fifth of the time)."""
        added = sum(1 for edit in self.inserted & other.inserted if len(edit[1]) >= 2)
        cut = sum(1 for start, end in self.runs & other.runs if end - start >= PARAGRAPH and end < self.length)
        return added + (cut if cut >= 2 else 0)


NO_EDITS = Edits(frozenset(), frozenset(), frozenset(), 0)


def edits(origin: str, copy: str) -> Edits:
    """The copy's edits of the origin, by the words of their matching texts: between two runs
    both keep, the origin's words are deleted and the copy's inserted (a replacement is both)."""
    words_o, words_c = tokens(origin), tokens(copy)
    deleted: set[int] = set()
    runs: set[tuple[int, int]] = set()
    inserted: set[tuple[int, tuple[str, ...]]] = set()
    o = c = 0  # where the last run both keep ended
    for block in Indel.opcodes(words_o, words_c).as_matching_blocks():
        if 0 < block.size < _EDIT_RUN:
            continue
        if block.a > o:
            deleted.update(range(o, block.a))
            runs.add((o, block.a))
        if block.b > c:
            inserted.add((o, tuple(words_c[c:block.b])))
        o, c = block.a + block.size, block.b + block.size
    return Edits(frozenset(deleted), frozenset(runs), frozenset(inserted), len(words_o))
