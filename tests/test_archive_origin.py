"""Origin and parent decisions on hand-made clusters: each kind of evidence, and which one wins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archive.syndication.origin import Member, attribution, bylines, parse_published, place

BODY = "Paragraph one of the article.\nParagraph two of the article.\n"


def member(article_id: int, url: str, kind: str, published: str | None, *, text: str = BODY, author: str | None = None,
           first_seen: str = "2026-11-25T10:00:00+00:00", canonical: str | None = None, sitename: str | None = None,
           source: str | None = None, title: str | None = None) -> Member:
    return Member(
        article_id=article_id,
        url=url,
        source=source,
        kind=kind,
        sitename=sitename,
        author=author,
        published=parse_published(published),
        published_source="page" if published else None,
        first_seen=datetime.fromisoformat(first_seen),
        canonical_url=canonical,
        text=text,
        title=title,
        timed=published is not None and len(published) > len("YYYY-MM-DD"),
    )


def flat(a: Member, b: Member) -> float:
    return 0.9


def test_attribution_lines() -> None:
    assert attribution("Text.\nThis article originally appeared at Global Research.\n") == "Global Research"
    assert attribution("This column first appeared in The Weekly Ledger on May 3.") == "The Weekly Ledger on May 3"
    assert attribution("Read more at scraper.example/aleppo") == "scraper.example/aleppo"
    assert attribution("Source: RT News") == "RT News"
    assert attribution("The source of the leak was not named.") is None


def test_bylines_only_at_the_top() -> None:
    text = "November 1, 2016 in News by RBN Staff\nby Stephen Lendman\nBody...\n" + "x\n" * 10 + "by The Way\n"
    assert bylines(text) == {"stephen lendman"}


def test_same_day_the_authors_own_site_is_the_origin() -> None:
    blog = member(2, "http://blog.example/a.html", "origin", "2016-11-01", author="Stephen Lendman",
                  first_seen="2026-11-25T10:00:05+00:00")
    rbn = member(1, "http://rbn.example/a/", "repost", "2016-11-01", author="RBN Staff",
                 text="November 1, 2016 in News by RBN Staff\nby Stephen Lendman\n" + BODY)
    origin, copy = place([rbn, blog], flat)
    assert (origin.article_id, origin.relation) == (2, "origin")
    assert (copy.article_id, copy.relation, copy.parent_id) == (1, "copy", 2)


def test_dates_days_apart_beat_site_kind() -> None:
    early_repost = member(1, "http://rbn.example/a/", "repost", "2016-10-01")
    late_blog = member(2, "http://blog.example/a.html", "origin", "2016-10-05")
    assert place([late_blog, early_repost], flat)[0].article_id == 1


def test_a_copy_that_cites_its_source_is_not_the_origin_whatever_its_date() -> None:
    column = member(1, "http://ledger.example/column/", "unknown", "2016-11-03T12:00:00+00:00", sitename="The Weekly Ledger")
    archive = member(2, "http://author.example/2016/11/column.html", "origin", "2016-11-01",
                     text=BODY + "This column first appeared in The Weekly Ledger on November 3.\n")
    origin, copy = place([archive, column], flat)
    assert origin.article_id == 1 and copy.parent_id == 1
    assert any("first appeared" in e or "originally appeared" in e for e in copy.evidence)


def test_timezone_confusion_within_a_day_falls_back_to_site_kind() -> None:
    origin = member(1, "http://paris.example/a.html", "origin", "2016-11-02T00:05:00+01:00")
    copy = member(2, "http://us.example/a/", "repost", "2016-11-01T18:30:00-05:00")
    assert place([copy, origin], flat)[0].article_id == 1


def test_undated_origin_on_the_authors_site() -> None:
    undated = member(3, "http://author.example/a/", "origin", None, first_seen="2026-11-25T12:00:00+00:00")
    dated = member(1, "http://rbn.example/a/", "repost", "2016-11-01", first_seen="2026-11-25T09:00:00+00:00")
    assert place([dated, undated], flat)[0].article_id == 3


def test_cross_site_canonical_link_names_the_parent() -> None:
    source = member(1, "http://a.example/story/", "unknown", None, first_seen="2026-11-25T12:00:00+00:00")
    copy = member(2, "http://b.example/story/", "unknown", None, canonical="http://a.example/story/",
                  first_seen="2026-11-25T09:00:00+00:00")
    origin, placed = place([copy, source], flat)
    assert origin.article_id == 1 and placed.parent_id == 1
    assert placed.evidence[0] == "canonical link to http://a.example/story/"


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_a_repost_of_a_repost_hangs_under_the_copy_whose_header_it_kept(order: tuple[int, int, int]) -> None:
    rbn_header = "November 1, 2016 in News by RBN Staff\nby Stephen Lendman\n"
    origin = member(1, "http://blog.example/a.html", "origin", "2016-11-01T08:00:00+00:00")
    child = member(2, "http://rbn.example/a/", "repost", "2016-11-01T15:00:00+00:00", text=rbn_header + BODY)
    grandchild = member(3, "http://digest.example/a/", "repost", "2016-11-02T09:00:00+00:00",
                        text="From the RBN wire\n" + rbn_header + BODY)
    sibling = member(4, "http://other.example/a/", "repost", "2016-11-01T16:00:00+00:00",
                     text="by Stephen Lendman\n" + BODY)
    members = [origin, child, grandchild]
    placements = {p.article_id: p for p in place([members[i] for i in order] + [sibling], flat)}
    assert placements[1].relation == "origin"
    assert placements[2].parent_id == 1 and placements[4].parent_id == 1
    assert placements[3].parent_id == 2
    assert placements[3].evidence[0] == "keeps its header lines: 'november 1, 2016 in news by rbn staff / by stephen lendman'"


def test_published_dates_are_read_as_utc() -> None:
    assert parse_published("2016-11-01") == datetime(2016, 11, 1, tzinfo=UTC)
    assert parse_published("2016-11-01T09:47:00-05:00") == datetime(2016, 11, 1, 14, 47, tzinfo=UTC)
    assert parse_published("the day after yesterday") is None


# A longer body for the edit-based tests: twelve numbered sentences in four paragraphs.
LONG = "\n".join(
    " ".join(f"Sentence {n} of paragraph {p} says something about the siege and its many victims." for n in range(3))
    for p in range(4)
)


def test_a_copy_that_kept_an_aggregators_note_and_cut_is_that_aggregators_copy() -> None:
    # Origin -> aggregator (drops paragraph 2, adds its note) -> a light edit crediting nobody,
    # which keeps both. A second aggregator took the origin directly: same day, no note.
    paragraphs = LONG.split("\n")
    aggregated = "\n".join([*paragraphs[:2], paragraphs[3], "Republic Wire reposts commentary from independent writers."])
    origin = member(1, "http://blog.example/a.html", "origin", "2016-11-01", text=LONG)
    wire = member(2, "http://wire.example/a/", "repost", "2016-11-02", text=aggregated)
    other = member(3, "http://other.example/a/", "repost", "2016-11-02", text=LONG)
    light = member(4, "http://light.example/a/", "unknown", "2016-11-04", text=aggregated)
    placed = {p.article_id: p for p in place([origin, wire, other, light], flat)}
    assert placed[4].parent_id == 2
    assert "kept the parent's own edits" in placed[4].evidence[0]
    assert placed[3].parent_id == 1  # the origin's text unchanged: nothing says it came through the wire


def test_link_texts_two_aggregators_both_stripped_do_not_make_one_the_others_parent() -> None:
    # Every aggregator that strips links drops the same words: no evidence of descent.
    stripped = LONG.replace("the siege and ", "")
    origin = member(1, "http://blog.example/a.html", "origin", "2016-11-01", text=LONG)
    first = member(2, "http://wire.example/a/", "repost", "2016-11-02", text=stripped)
    second = member(3, "http://global.example/a/", "repost", "2016-11-03", text=stripped)
    placed = {p.article_id: p for p in place([origin, first, second], flat)}
    assert placed[3].parent_id == 1


def test_pages_of_one_day_are_ordered_by_their_minutes() -> None:
    # Two sites of no known kind copy nothing visibly; their feeds give the minute. The
    # relay was crawled first, which alone would make it the origin.
    courier = member(1, "http://courier.example/news/a.html", "unknown", "2021-03-30T08:10:00+00:00",
                     first_seen="2026-11-25T10:00:09+00:00")
    relay = member(2, "http://relay.example/story/a", "unknown", "2021-03-30T15:40:00+00:00",
                   first_seen="2026-11-25T10:00:01+00:00")
    assert place([relay, courier], flat)[0].article_id == 1


def test_a_day_alone_does_not_order_a_minute_on_that_day() -> None:
    # One page gives only its day: midnight UTC is no time, so its copy's 15:40 does not come
    # after it; the next evidence (here the first capture) decides, either way.
    for dated_first in (True, False):
        dated = member(1, "http://courier.example/news/a.html", "unknown", "2021-03-30",
                       first_seen="2026-11-25T10:00:0%d+00:00" % (1 if dated_first else 9))
        timed = member(2, "http://relay.example/story/a", "unknown", "2021-03-30T15:40:00+00:00",
                       first_seen="2026-11-25T10:00:05+00:00")
        assert place([timed, dated], flat)[0].article_id == (1 if dated_first else 2)


def test_a_relay_took_the_text_from_the_copy_published_last_before_it_that_day() -> None:
    # Origin, then a wire and a digest that both strip the same link texts, then a relay
    # that lacks them too, all within a day: the digest, minutes before the relay, is its parent.
    text = LONG + "\nHe can be reached at henrik@lantern.example."
    stripped = LONG + "\nHe can be reached at."
    origin = member(1, "http://lantern.example/a/", "origin", "2021-04-21T06:00:00+00:00", text=text)
    wire = member(2, "http://wire.example/a/", "repost", "2021-04-21T09:00:00+00:00", text=stripped,
                  first_seen="2026-11-25T10:00:09+00:00")
    digest = member(3, "http://digest.example/archives/1", "repost", "2021-04-21T13:00:00+00:00", text=stripped,
                    first_seen="2026-11-25T10:00:01+00:00")
    relay = member(4, "http://relay.example/story/a", "unknown", "2021-04-21T13:30:00+00:00", text=stripped)
    placed = {p.article_id: p for p in place([origin, wire, digest, relay], flat)}
    assert placed[4].parent_id == 3


def test_an_aggregator_crediting_nobody_took_the_text_from_the_authors_blog_that_had_it_last() -> None:
    # A magazine column, then the author's blog (kind origin) with the same text, then an
    # aggregator that names neither: only the dates say where it found it.
    magazine = member(1, "http://ledger.example/column/", "unknown", "2016-11-01", text=LONG)
    blog = member(2, "http://blog.example/column.html", "origin", "2016-11-03", text=LONG)
    aggregator = member(3, "http://rbn.example/column/", "repost", "2016-11-05", text=LONG)
    placed = {p.article_id: p for p in place([magazine, blog, aggregator], flat)}
    assert placed[1].relation == "origin"
    assert placed[3].parent_id == 2
    assert "published last before it" in placed[3].evidence[0]
    later_blog = member(2, "http://blog.example/column.html", "origin", "2016-11-09", text=LONG)
    placed = {p.article_id: p for p in place([magazine, later_blog, aggregator], flat)}
    assert placed[3].parent_id == 1  # the blog had it only after the aggregator


def test_a_byline_naming_the_author_credits_no_copy_that_has_the_same_author() -> None:
    # The origin's theme hides its author; a digest's page names him: the aggregator's
    # "by Henrik Maas" line credits the author, not the digest.
    origin = member(1, "http://lantern.example/a/", "origin", "2021-03-08", text=LONG)
    digest = member(2, "http://digest.example/a/", "unknown", "2021-03-08", author="Henrik Maas",
                    text="From the Weekly Digest reading list\n" + LONG)
    wire = member(3, "http://wire.example/a/", "repost", "2021-03-08",
                  text="March 8, 2021 in News by Staffwire Staff\nby Henrik Maas\n" + LONG)
    placed = {p.article_id: p for p in place([origin, digest, wire], flat)}
    assert placed[3].parent_id == 1


def test_the_site_a_copy_credits_is_the_origin_among_same_day_pages() -> None:
    # Three sites, one day: the digest says where the text first appeared; the courier's
    # extraction also kept its title line, which alone would make it look like the copy.
    relay = member(1, "http://relay.example/story/a", "unknown", "2021-02-24", text=LONG)
    courier = member(2, "http://courier.example/news/a.html", "unknown", "2021-02-24", sitename="The Courier",
                     text="A new public library opens downtown\n" + LONG)
    digest = member(3, "http://digest.example/archives/1", "repost", "2021-02-24",
                    text=LONG + "\nThis article originally appeared at The Courier.")
    placed = place([relay, courier, digest], flat)
    assert (placed[0].article_id, placed[0].relation) == (2, "origin")


def test_a_relay_that_lacks_the_link_texts_an_aggregator_stripped_copied_the_aggregator() -> None:
    # The relay (no aggregator: it strips nothing itself) reposts the wire's text a few hours
    # later, without its dateline; the only trace is the e-mail address the wire removed.
    text = LONG + "\nHe can be reached at henrik@lantern.example."
    stripped = LONG + "\nHe can be reached at."
    origin = member(1, "http://lantern.example/a/", "origin", "2021-02-03", text=text)
    wire = member(2, "http://wire.example/a/", "repost", "2021-02-04",
                  text="February 4, 2021 in News by Staffwire Staff\nby Henrik Maas\n" + stripped)
    relay = member(3, "http://relay.example/story/a", "unknown", "2021-02-04", text="by Henrik Maas\n" + stripped)
    placed = {p.article_id: p for p in place([origin, wire, relay], flat)}
    assert placed[3].parent_id == 2
    assert "lacks the same 3 words" in placed[3].evidence[0]
    assert placed[2].parent_id == 1
    # An aggregator that strips links itself proves nothing by lacking them.
    other_wire = member(3, "http://global.example/a/", "repost", "2021-02-04", text=stripped)
    placed = {p.article_id: p for p in place([origin, wire, other_wire], flat)}
    assert placed[3].parent_id == 1


def test_a_column_the_author_archived_backdated_is_no_parent_of_an_aggregators_copy() -> None:
    # The blog's copy carries the magazine's date: nothing says the aggregator found it there.
    magazine = member(1, "http://ledger.example/column/", "unknown", "2016-11-01", text=LONG)
    blog = member(2, "http://blog.example/column.html", "origin", "2016-11-01",
                  text=LONG + "\nThis column first appeared in The Weekly Ledger.")
    aggregator = member(3, "http://rbn.example/column/", "repost", "2016-11-03", text=LONG)
    placed = {p.article_id: p for p in place([magazine, blog, aggregator], flat)}
    assert placed[3].parent_id == 1


def test_a_headline_extraction_keeps_on_top_is_neither_a_header_nor_an_edit() -> None:
    # Same day, same kind: the courier's extraction starts with its headline, which the
    # relay's and the wire's do not; the digest's "Source:" line names the courier.
    headline = "A new public library opens downtown"
    courier = member(1, "http://courier.example/news/a.html", "unknown", "2021-02-24", sitename="The Courier",
                     text=f"{headline}\n{LONG}", title=headline)
    relay = member(2, "http://relay.example/story/a", "unknown", "2021-02-24", first_seen="2026-11-25T09:00:00+00:00",
                   text=LONG)
    wire = member(3, "http://wire.example/a/", "repost", "2021-02-24", text=LONG.replace("the siege and ", ""))
    digest = member(4, "http://digest.example/archives/1", "repost", "2021-02-24", text=f"{LONG}\nSource: The Courier")
    placed = place([relay, courier, wire, digest], flat)
    assert (placed[0].article_id, placed[0].relation) == (1, "origin")
    assert {p.article_id: p.parent_id for p in placed[1:]} == {2: 1, 3: 1, 4: 1}


def test_a_relay_that_added_no_header_of_its_own_copied_the_earlier_page_with_that_header() -> None:
    # The digest puts its reading-list line on top and a credit below; a day later a relay
    # posts the digest's page as it is, credit and all: the credit names the origin, the
    # header names the digest.
    origin = member(1, "http://lantern.example/a/", "origin", "2021-02-13", sitename="The Lantern Review", text=LONG)
    page = f"From the Weekly Digest reading list\n{LONG}\nSource: The Lantern Review"
    digest = member(2, "http://digest.example/archives/7", "repost", "2021-02-13", text=page)
    relay = member(3, "http://relay.example/story/a", "unknown", "2021-02-14", text=page)
    placed = {p.article_id: p for p in place([origin, digest, relay], flat)}
    assert (placed[2].parent_id, placed[3].parent_id) == (1, 2)
    assert "keeps its header lines" in placed[3].evidence[0]
