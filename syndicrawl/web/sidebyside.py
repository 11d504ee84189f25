"""A diff's two texts side by side: every line of each, with the named edits marked where they are.

``edits.diff`` places each edit by the 1-based line it starts at on each side, counting only the
lines that have words, and gives its text as it aligned it (typography folded): whole lines for
dropped, added, header, boilerplate and typography edits; for ``rewritten`` and ``links_removed``
the words changed, one piece per line joined by " / ". The lines are the diff's own (``edits.shown_lines``);
a piece is marked inside the line as the page has it where it is found there verbatim (ASCII text,
the usual case), else the whole line is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.syndication import edits

if TYPE_CHECKING:
    from archive.syndication.edits import Edit, TextDiff

#: Edits of whole lines: their text is the lines, one a line.
WHOLE_LINES = frozenset({"paragraph_dropped", "paragraph_added", "header", "boilerplate", "typography"})


@dataclass
class Line:
    """One line as the page has it: its number in the diff, the edits of it whole, and its text in
    pieces, each with the kind of the edit that changed it (None: kept)."""

    number: int
    kinds: list[str] = field(default_factory=list)
    pieces: list[tuple[str, str | None]] = field(default_factory=list)


def sides(parent: str, copy: str, result: TextDiff) -> tuple[list[Line], list[Line]]:
    """The parent's lines and the copy's, with ``result``'s edits marked on them."""
    return _side(parent, result.edits, parent=True), _side(copy, result.edits, parent=False)


def _side(text: str, named: tuple[Edit, ...], *, parent: bool) -> list[Line]:
    lines = edits.shown_lines(text)
    shown = [Line(n, pieces=[(raw, None)]) for n, (raw, _) in enumerate(lines, 1)]
    for edit in named:
        start, changed = (edit.parent_line, edit.parent_text) if parent else (edit.copy_line, edit.copy_text)
        if start is None or not changed:  # the title, or nothing on this side
            continue
        if edit.kind in WHOLE_LINES:
            for line in shown[start - 1 : start - 1 + len(changed.splitlines())]:
                line.kinds.append(edit.kind)
            continue
        at = start - 1
        for piece in changed.split(" / "):
            at = next((n for n in range(at, len(lines)) if piece in lines[n][1]), at)
            if at < len(shown):
                _mark(shown[at], piece, edit.kind)
    return shown


def _mark(line: Line, piece: str, kind: str) -> None:
    """Mark ``piece`` in the first kept part of ``line`` holding it; the whole line if none does."""
    for n, (text, marked) in enumerate(line.pieces):
        if marked is None and piece in text:
            before, _, after = text.partition(piece)
            line.pieces[n : n + 1] = [part for part in ((before, None), (piece, kind), (after, None)) if part[0]]
            return
    line.kinds.append(kind)
