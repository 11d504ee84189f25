"""What one text changed in another, as named edits: the diff a researcher reads.

Used both ways: a copy against its parent (what the repost changed) and a page against its
own earlier capture (what the site changed later). The two texts are aligned word by word
(``alignment.word_opcodes``) on the words syndication matching sees (typography folded, case
ignored), and each run of changes is named by what it touches:

- ``title``: the title changed beyond typography;
- ``header``: whole lines added above the shared text (a repost's "by AUTHOR", dateline);
- ``paragraph_dropped`` / ``paragraph_added``: whole lines gone or new;
- ``links_removed``: words gone that were the parent's link texts, and nothing else (RBN's
  copies drop every ``<a>`` with its text: "He can be reached at ." );
- ``rewritten``: words changed inside a line (a headline softened, a sentence redone);
- ``boilerplate``: changes only to lines every repost site adds or rewrites (datelines,
  credits, "Originally appeared at"; ``fingerprint.is_boilerplate``), below the top, and
- ``typography``: a line with the same words and other quotes, dashes or spaces.

The last two are shown but not counted: they are not changes of the article.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from archive.syndication import alignment
from archive.syndication.fingerprint import WORD, fold_characters, is_boilerplate, normalize, segment

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: Edit kinds shown but not counted.
UNCOUNTED = frozenset({"boilerplate", "typography"})
#: Shared runs shorter than this many words between two changes are part of one change: an
#: optimal alignment matches a stray "the" inside a rewritten sentence, which says nothing.
ANCHOR = 3


@dataclass(frozen=True, slots=True)
class Edit:
    """One change: its kind, where (1-based line of each text; None for the title) and both texts."""

    kind: str
    parent_line: int | None
    copy_line: int | None
    parent_text: str
    copy_text: str

    @property
    def counted(self) -> bool:
        return self.kind not in UNCOUNTED


@dataclass(frozen=True, slots=True)
class TextDiff:
    """The edits from a parent to a copy, in text order, and the share of the parent's text kept."""

    edits: tuple[Edit, ...]
    kept: float

    def counts(self) -> dict[str, int]:
        """Counted edits per kind."""
        return dict(Counter(edit.kind for edit in self.edits if edit.counted))

    def summary(self) -> dict[str, Any]:
        """What is stored per page: ``kept`` (share of the parent's text) and the counts."""
        return {"kept": round(self.kept, 3), **self.counts()}

    @property
    def changed(self) -> bool:
        """Whether any edit counts: the texts differ beyond typography and boilerplate."""
        return any(edit.counted for edit in self.edits)

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "edits": [asdict(edit) for edit in self.edits]}


class _Text:
    """A text's lines as shown (typography folded, case kept) and its words: keys and lines."""

    def __init__(self, text: str) -> None:
        self.raw: list[str] = []  # as the page has it, for typography
        self.lines: list[str] = []
        self.keys: list[str] = []
        self.line_of: list[int] = []
        self.first: list[int] = []  # each line's first word
        for raw in text.splitlines():
            line = segment(" ".join(fold_characters(raw).split()))
            found = WORD.findall(line)
            if not found:  # a rule, an empty line: no words to align
                continue
            self.raw.append(raw.strip())
            self.first.append(len(self.keys))
            self.keys += map(str.casefold, found)
            self.line_of += [len(self.lines)] * len(found)
            self.lines.append(line)
        self.first.append(len(self.keys))

    def touched(self, start: int, end: int) -> range:
        """The lines holding words ``start`` to ``end``; where nothing is (an insertion), the line there."""
        if start == end:
            at = self.line_of[start] if start < len(self.keys) else len(self.lines)
            return range(at, at)
        return range(self.line_of[start], self.line_of[end - 1] + 1)

    def whole(self, start: int, end: int) -> bool:
        """Whether words ``start`` to ``end`` are whole lines."""
        lines = self.touched(start, end)
        return self.first[lines.start] == start and self.first[lines.stop] == end

    def pieces(self, start: int, end: int) -> list[tuple[int, int]]:
        """Words ``start`` to ``end`` cut at line ends."""
        return [(max(start, self.first[line]), min(end, self.first[line + 1])) for line in self.touched(start, end)]

    def words(self, start: int, end: int) -> str:
        """Words ``start`` to ``end`` as shown, with what lies between them on each line."""
        parts = []
        for line in self.touched(start, end):
            left, right = max(start, self.first[line]) - self.first[line], min(end, self.first[line + 1]) - self.first[line]
            spans = [match.span() for match in WORD.finditer(self.lines[line])]
            parts.append(self.lines[line][spans[left][0] : spans[right - 1][1]])
        return " / ".join(parts)


def shown_lines(text: str) -> list[tuple[str, str]]:
    """Each line with words, as the page has it and as ``diff`` aligns it: an ``Edit``'s line
    numbers count these (the diff view marks edits on them)."""
    found = _Text(text)
    return list(zip(found.raw, found.lines, strict=True))


def diff(
    parent: str,
    copy: str,
    *,
    parent_title: str | None = None,
    copy_title: str | None = None,
    link_texts: Iterable[str] = (),
) -> TextDiff:
    """The edits that make ``copy`` of ``parent``; ``link_texts``: the parent page's link texts,
    to tell links stripped with their text from other words removed."""
    edits = _title(parent_title, copy_title)
    if parent == copy:  # an exact copy, the most common kind: nothing to align
        return TextDiff(tuple(edits), 1.0 if parent else 0.0)
    a, b = _Text(parent), _Text(copy)
    opcodes = alignment.word_opcodes(a.keys, b.keys)
    links = {tuple(WORD.findall(segment(normalize(link)))) for link in link_texts} - {()}
    for a1, a2, b1, b2 in _changes(opcodes):
        if b1 == b2:
            shift = _to_lines(a, a1, a2)
        elif a1 == a2:
            shift = _to_lines(b, b1, b2)
        else:
            shift = 0
        edits += _named(a, b, a1 + shift, a2 + shift, b1 + shift, b2 + shift, links)
    edits += _typography(a, b, opcodes)
    edits.sort(key=lambda edit: (edit.parent_line or 0, edit.copy_line or 0))
    equal = [(a1, a2) for tag, a1, a2, _, _ in opcodes if tag == "equal"]
    kept = alignment.kept(a.keys, equal) if a.keys else 0.0
    return TextDiff(tuple(edits), kept)


def _title(parent: str | None, copy: str | None) -> list[Edit]:
    if not parent or not copy or parent == copy:
        return []
    kind = "typography" if normalize(parent) == normalize(copy) else "title"
    return [Edit(kind, None, None, parent, copy)]


def _changes(opcodes: Sequence[tuple[str, int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Runs of changes (parent start, end, copy start, end), joined across shared runs under ``ANCHOR``
    (never a shared run before the first change or after the last)."""
    runs: list[list[int]] = []
    join = False
    for tag, a1, a2, b1, b2 in opcodes:
        if tag == "equal":
            join = bool(runs) and a2 - a1 < ANCHOR
        elif runs and (join or (runs[-1][1], runs[-1][3]) == (a1, b1)):
            runs[-1][1], runs[-1][3] = a2, b2
        else:
            runs.append([a1, a2, b1, b2])
    return [(a1, a2, b1, b2) for a1, a2, b1, b2 in runs]


def _to_lines(text: _Text, start: int, end: int) -> int:
    """How far to move a run of words removed (or added) to make it whole lines, if it can be.

    Of equally good alignments the aligner picks one: a paragraph dropped between two starting
    with "The" can come out as all but its "The" and the next one's. Moving the run by k words
    is the same alignment while the word leaving it equals the word entering (diff's "slide").
    """
    keys = text.keys
    left, right = 0, 0
    while start - left > 0 and keys[start - left - 1] == keys[end - left - 1]:
        left += 1
    while end + right < len(keys) and keys[start + right] == keys[end + right]:
        right += 1
    return next((shift for shift in range(-left, right + 1) if text.whole(start + shift, end + shift)), 0)


def _named(a: _Text, b: _Text, a1: int, a2: int, b1: int, b2: int, links: set[tuple[str, ...]]) -> list[Edit]:
    """Name one run of changes (module docstring)."""
    at_a, at_b = a.touched(a1, a2), b.touched(b1, b2)
    line_a, line_b = at_a.start + 1, at_b.start + 1
    whole_a, whole_b = a1 == a2 or a.whole(a1, a2), b1 == b2 or b.whole(b1, b2)
    if b1 == b2:
        stripped = _segments(tuple(a.keys[a1:a2]), links)
        if stripped:
            return [
                Edit("links_removed", a.line_of[a1 + start] + 1, line_b, a.words(a1 + start, a1 + end), "")
                for start, end in stripped
            ]
    old, new = [a.lines[line] for line in at_a], [b.lines[line] for line in at_b]
    header = a1 == a2 == b1 == 0 and whole_b
    if not header and all(is_boilerplate(normalize(line)) for line in old + new):
        return [Edit("boilerplate", line_a, line_b, "\n".join(old), "\n".join(new))]
    # Words removed (or added) across lines, not whole lines: each line's part is its own edit
    # (a link at the end of one line and the next paragraph, both gone).
    if b1 == b2 and not whole_a and len(at_a) > 1:
        return [edit for start, end in a.pieces(a1, a2) for edit in _named(a, b, start, end, b1, b2, links)]
    if a1 == a2 and not whole_b and len(at_b) > 1:
        return [edit for start, end in b.pieces(b1, b2) for edit in _named(a, b, a1, a2, start, end, links)]
    if whole_a and whole_b:
        added = "header" if header else "paragraph_added"
        return [Edit("paragraph_dropped", line + 1, line_b, text, "") for line, text in zip(at_a, old, strict=True)] + [
            Edit(added, line_a, line + 1, "", text) for line, text in zip(at_b, new, strict=True)
        ]
    # Whole lines inside a run that also changes words (a paragraph dropped beside a sentence
    # rewritten): the lines are dropped or added, the rest is rewritten.
    parts_a = [piece for piece in a.pieces(a1, a2) if a1 < a2]
    parts_b = [piece for piece in b.pieces(b1, b2) if b1 < b2]
    dropped = [a.line_of[start] for start, end in parts_a if a.whole(start, end)]
    added = [b.line_of[start] for start, end in parts_b if b.whole(start, end)]
    rest_a = [(start, end) for start, end in parts_a if a.line_of[start] not in dropped]
    rest_b = [(start, end) for start, end in parts_b if b.line_of[start] not in added]
    # The same words on both sides, left by an alignment that moved a line's first words to the
    # line dropped beside it, are no rewrite.
    for at in (0, -1):
        while rest_a and rest_b and a.keys[slice(*rest_a[at])] == b.keys[slice(*rest_b[at])]:
            del rest_a[at], rest_b[at]
    return [
        *(Edit("paragraph_dropped", line + 1, line_b, a.lines[line], "") for line in dropped),
        *(Edit("paragraph_added", line_a, line + 1, "", b.lines[line]) for line in added),
        *(
            [Edit("rewritten", line_a, line_b, " / ".join(a.words(*part) for part in rest_a),
                  " / ".join(b.words(*part) for part in rest_b))]  # fmt: skip
            if rest_a or rest_b
            else []
        ),
    ]


def _segments(words: tuple[str, ...], links: set[tuple[str, ...]]) -> list[tuple[int, int]] | None:
    """``words`` cut into link texts (start, end), fewest cuts; None if they are not link texts only."""
    if not words or not links:
        return None
    longest = max(map(len, links))
    best: list[list[tuple[int, int]] | None] = [[], *[None] * len(words)]
    for end in range(1, len(words) + 1):
        cuts = [
            [*best_start, (start, end)]
            for start in range(max(0, end - longest), end)
            if (best_start := best[start]) is not None and words[start:end] in links
        ]
        best[end] = min(cuts, key=len, default=None)
    return best[-1]


def _typography(a: _Text, b: _Text, opcodes: Sequence[tuple[str, int, int, int, int]]) -> list[Edit]:
    """Lines whose words are all shared, in one run, with a whole line of the parent, shown otherwise."""
    edits = []
    for tag, a1, a2, b1, _ in opcodes:
        if tag != "equal":
            continue
        for line in b.touched(b1, b1 + (a2 - a1)):
            start, end = b.first[line], b.first[line + 1]
            if start < b1 or end > b1 + (a2 - a1):
                continue
            mapped = a1 + (start - b1)
            other = a.line_of[mapped]
            if a.first[other] == mapped and a.first[other + 1] == mapped + (end - start) and a.raw[other] != b.raw[line]:
                edits.append(Edit("typography", other + 1, line + 1, a.raw[other], b.raw[line]))
    return edits


def link_texts(html: str | bytes) -> list[str]:
    """The texts of a page's ``<a>`` elements (nav links too: only a removal that is exactly link texts is named so)."""
    from lxml import html as lxml_html  # noqa: PLC0415 - only diffs that have the parent's page read it

    try:
        tree = lxml_html.fromstring(html)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return []
    return [text for text in (" ".join(anchor.text_content().split()) for anchor in tree.iter("a")) if text]
