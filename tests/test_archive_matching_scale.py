"""Matching a widely reposted article: a new copy is compared with a few members of its cluster, not all.

A syndicated column has dozens to hundreds of copies; comparing each new one with every
member made matching cost grow with the cluster (issue #23).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.syndication import matching
from archive.syndication.neardup import NearDupIndex
from tests.test_archive_matching import MOSUL, links, match, placements

if TYPE_CHECKING:
    from archive.db.engine import Database


def _edited(words: list[str], n: int) -> str:
    """A light repost: its site's byline on top, one word in 40 changed at an offset of its own."""
    return "\n".join([f"by Staff of site {n}", " ".join(w if i % 40 != n % 40 else f"x{n}" for i, w in enumerate(words))])


def test_a_text_posted_word_for_word_again_is_compared_with_its_first_copy_only(database: Database) -> None:
    # A mirror network: the same text under many URLs.
    text = "\n".join(MOSUL)
    ids = match(database, *((f"mirror{n}", "/mosul", text) for n in range(6)))
    first = ids["mirror0/mosul"]
    assert links(database) == {(ids[f"mirror{n}/mosul"], first, "copy") for n in range(1, 6)}
    assert {relation for relation, _ in placements(database).values()} == {"origin", "copy"}


def test_a_copy_joining_a_large_cluster_is_compared_with_its_origin_and_nearest_members(database: Database) -> None:
    words = "\n".join(MOSUL).split()
    size = matching.NEAREST + 6
    ids = match(database, ("blog", "/mosul", " ".join(words)), *((f"site{n}", "/mosul", _edited(words, n)) for n in range(1, size)))
    last = ids[f"site{size - 1}/mosul"]
    assert 1 <= len({(a, b) for a, b, _ in links(database) if last in (a, b)}) <= matching.NEAREST + 1
    placed = placements(database)
    assert len(placed) == size and sum(relation == "origin" for relation, _ in placed.values()) == 1
    assert placed[ids["blog/mosul"]] == ("origin", None)


def test_dedup_rebuild_of_a_large_cluster_places_it_as_the_crawl_did(database: Database) -> None:
    # Its links may differ: a rebuild matches 64 articles together, and the members of a
    # batch are not placed yet, so each is compared with all earlier ones of its batch.
    words = "\n".join(MOSUL).split()
    text = " ".join(words)
    match(database, ("blog", "/mosul", text), *((f"site{n}", "/mosul", _edited(words, n)) for n in range(1, 14)),
          *((f"mirror{n}", "/mosul", text) for n in range(3)))
    crawled = placements(database)
    with database.session() as s, s.begin():
        matching.rebuild(s, NearDupIndex(database))
    assert placements(database) == crawled
