"""The diff view's two columns: each named edit marked on the line it changed, in the text as the page has it."""

from __future__ import annotations

from archive.syndication import edits
from syndicrawl.web.sidebyside import sides

STORY = (
    "Officials in the capital said on Tuesday that the strike killed twelve people in the crowded market near the river.\n"
    "* * *\n"
    "Witnesses described \u201cchaos\u201d as ambulances arrived from three hospitals across the city.\n"
    "The ministry denied any role in the attack and promised an inquiry.\n"
    "He can be reached at example.org\n"
)


def test_a_softened_sentence_is_marked_inside_its_line_on_both_sides() -> None:
    """A repost softening a casualty figure: only the words changed are marked, the line kept."""
    copy = STORY.replace("killed twelve", "hurt several")
    left, right = sides(STORY, copy, edits.diff(STORY, copy))
    assert left[0].pieces == [("Officials in the capital said on Tuesday that the strike ", None),
                              ("killed twelve", "rewritten"), (" people in the crowded market near the river.", None)]
    assert right[0].pieces[1] == ("hurt several", "rewritten") and right[0].kinds == []


def test_lines_are_numbered_as_the_diff_numbers_them_past_a_rule() -> None:
    """A "* * *" rule has no words: the diff does not count it, nor do the columns, so a paragraph
    dropped after it and link texts stripped (RBN's copies: "He can be reached at .") land on their lines."""
    copy = "\n".join(line for line in STORY.splitlines() if not line.startswith("The ministry")).replace(" example.org", "")
    result = edits.diff(STORY, copy, link_texts=["example.org"])
    left, right = sides(STORY, copy, result)
    assert [line.number for line in left] == [1, 2, 3, 4]
    assert left[2].kinds == ["paragraph_dropped"] and left[2].pieces == [(STORY.splitlines()[3], None)]
    assert left[3].pieces == [("He can be reached at ", None), ("example.org", "links_removed")]
    assert [line.kinds for line in right] == [[], [], []]


def test_other_quotes_mark_the_whole_line_as_typography() -> None:
    """The same words with straight quotes: shown as typography on the whole line, as the page has it."""
    copy = STORY.replace("\u201c", '"').replace("\u201d", '"')
    left, right = sides(STORY, copy, edits.diff(STORY, copy))
    assert left[1].kinds == right[1].kinds == ["typography"]
    assert right[1].pieces == [('Witnesses described "chaos" as ambulances arrived from three hospitals across the city.', None)]
