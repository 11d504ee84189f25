"""Matching articles into copies and excerpts, on a real database: the rules and the sites they serve.

Texts are the demo articles (``syndicrawl/demo/content``), cut and edited the way repost
sites and scrapers do it; every article is matched as a crawl matches it (``match_many``).
"""

from __future__ import annotations

import re
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from archive.db import catalog
from archive.db.models import Article, ArticleLink, Syndication
from archive.ingest.extract import text_hash
from archive.syndication import alignment, fingerprint, matching
from archive.syndication.boilerplate import SiteLines
from archive.syndication.neardup import NearDupIndex
from syndicrawl.demo.render import plain_text

if TYPE_CHECKING:
    from archive.db.engine import Database

CONTENT = Path(__file__).resolve().parents[1] / "syndicrawl" / "demo" / "content"
_records = count()
KINDS = {"author": "origin"}  # the author's own site; every other site is of kind unknown


def paragraphs(name: str) -> list[str]:
    html = (CONTENT / f"{name}.html").read_text(encoding="utf-8")
    return [text for text in map(plain_text, re.split(r"</p>", html)) if text]


MOSUL = paragraphs("blog-battle-for-mosul-begins")
HAITI = paragraphs("blog-hurricane-matthew-ravages-haiti")


def store(s, site: str, path: str, text: str, *, canonical: str | None = None) -> Article:
    """One captured page of ``site`` and its extracted ``text``, as the archive writer stores them."""
    source = catalog.ensure_source(s, site, KINDS.get(site, "unknown"))
    capture = catalog.add_capture(
        s, source_id=source.id, url=f"http://{site}.test{path}", timestamp=catalog.utcnow(), status=200,
        mime="text/html", warc_file=f"{site}.warc.gz", warc_offset=0, warc_length=1,
        record_id=f"<urn:uuid:{next(_records)}>", payload_digest="sha1:A",
    )
    return catalog.add_article(s, capture_id=capture.id, url=capture.url, text=text, text_hash=text_hash(text),
                               canonical_url=canonical)


def match(database: Database, *pages: tuple[str, str, str]) -> dict[str, int]:
    """Store and match each (site, path, text) in its own batch, in order; return article ids by site+path."""
    ids = {}
    for site, path, text in pages:
        with database.session() as s, s.begin():
            article = store(s, site, path, text)
            matching.match_many(s, NearDupIndex(database), [(article, None)])
            ids[site + path] = article.id
    return ids


def links(database: Database) -> set[tuple[int, int, str]]:
    with database.session() as s:
        return {(link.article_id, link.other_id, link.kind) for link in s.scalars(select(ArticleLink))}


def placements(database: Database) -> dict[int, tuple[str, int | None]]:
    with database.session() as s:
        return {row.article_id: (row.relation, row.parent_id) for row in s.scalars(select(Syndication))}


def strip_links(words: list[str], every: int = 20) -> list[str]:
    """What a repost keeps of a text whose links it removed with their text: two words of every ``every`` gone."""
    return [word for n, word in enumerate(words) if n % every not in (3, 4)]


def test_a_copy_that_stripped_its_links_is_measured_by_the_text_it_kept() -> None:
    origin = "\n".join(MOSUL)
    copy = " ".join(strip_links(origin.split()))
    shingled = fingerprint.containment(fingerprint.shingles(origin), fingerprint.shingles(copy))
    shares = alignment.shares(copy, origin)
    assert shingled < 0.7  # every stripped link breaks five shingles
    assert shares.contained == 1.0
    assert 0.88 < shares.covered < 0.92  # two words of twenty are gone, weighed by their length
    assert shares.lead


def test_a_repost_without_its_link_texts_is_a_copy_though_its_shingles_fall_below_the_line(database: Database) -> None:
    # RBN strips every <a> with its text: "He can be reached at" ends in nothing.
    origin = "\n".join(MOSUL)
    words = origin.split()
    copy = "November 1, 2016 in News by RBN Staff\nby Stephen Lendman\n" + " ".join(strip_links(words[: len(words) * 4 // 5]))
    assert fingerprint.containment(fingerprint.shingles(origin), fingerprint.shingles(copy)) < 0.6
    ids = match(database, ("blog", "/mosul", origin), ("rbn", "/mosul-repost", copy))
    assert links(database) == {(ids["rbn/mosul-repost"], ids["blog/mosul"], "copy")}
    assert placements(database)[ids["rbn/mosul-repost"]] == ("copy", ids["blog/mosul"])


@pytest.mark.parametrize(("cut", "kept", "relation"), [(0.63, 0.56, "excerpt"), (0.71, 0.64, "copy")])
def test_the_copy_excerpt_line_is_the_share_of_the_text_kept(
    database: Database, cut: float, kept: float, relation: str
) -> None:
    # Both keep the first part and lose their links' texts; their shingles keep under half of
    # the original either way, but one keeps 56 % of the text and the other 64 %.
    words = "\n".join(MOSUL).split()
    shortened = " ".join(strip_links(words[: round(len(words) * cut)]))
    assert fingerprint.containment(fingerprint.shingles(" ".join(words)), fingerprint.shingles(shortened)) < 0.5
    if relation == "excerpt":
        shortened += "\nRead more at Stephen Lendman's blog"
    ids = match(database, ("blog", "/long", " ".join(words)), ("scraper", "/cut", shortened))
    with database.session() as s:
        [link] = s.scalars(select(ArticleLink)).all()
    assert (link.article_id, link.other_id, link.kind) == (ids["scraper/cut"], ids["blog/long"], relation)
    assert link.covered == pytest.approx(kept, abs=0.015)
    assert placements(database)[ids["scraper/cut"]] == (relation, ids["blog/long"])


@pytest.mark.parametrize("cited_first", [True, False])
def test_an_excerpt_that_cites_its_source_by_url_is_linked_whichever_is_archived_first(
    database: Database, cited_first: bool
) -> None:
    # A scraper's "first lines, then Read more at URL": a short text, and too little shared
    # text for the LSH index (a Jaccard of 0.09), but it names the page it was cut from.
    origin = "\n".join(MOSUL)
    teaser = " ".join(origin.split()[:35]) + "\nRead more at http://blog.test/mosul"
    assert fingerprint.jaccard(fingerprint.shingles(teaser), fingerprint.shingles(origin)) < 0.1
    pages = [("blog", "/mosul", origin), ("scraper", "/teaser", teaser)]
    ids = match(database, *(pages if cited_first else reversed(pages)))
    assert links(database) == {(ids["scraper/teaser"], ids["blog/mosul"], "excerpt")}
    assert placements(database)[ids["scraper/teaser"]] == ("excerpt", ids["blog/mosul"])
    with database.session() as s, s.begin():
        matching.rebuild(s, NearDupIndex(database))
    assert placements(database)[ids["scraper/teaser"]] == ("excerpt", ids["blog/mosul"])


def test_a_short_text_that_cites_nothing_is_no_excerpt(database: Database) -> None:
    # A tag page's teaser of an article: the article's first words, no credit.
    origin = "\n".join(MOSUL)
    ids = match(database, ("blog", "/mosul", origin), ("blog2", "/tag/iraq", " ".join(origin.split()[:40])))
    assert links(database) == set()
    assert placements(database)[ids["blog2/tag/iraq"]] == ("unique", None)


def test_a_short_brief_and_its_repost_are_one_article(database: Database) -> None:
    brief = " ".join(MOSUL[0].split()[:38])
    repost = f"by Stephen Lendman\n{brief}"
    ids = match(database, ("blog", "/brief", brief), ("rbn", "/brief", repost))
    assert placements(database)[ids["rbn/brief"]] == ("copy", ids["blog/brief"])


def test_short_notes_of_two_sites_sharing_a_long_bio_stay_apart(database: Database) -> None:
    # Two different short notes by one author, each followed by the same long bio.
    bio = " ".join(HAITI[-2:])
    ids = match(
        database,
        ("blog", "/note-1", " ".join(MOSUL[0].split()[:30]) + "\n" + bio),
        ("digest", "/note-2", " ".join(MOSUL[2].split()[:30]) + "\n" + bio),
    )
    assert links(database) == set()
    assert set(placements(database).values()) == {("unique", None)}
    assert len(ids) == 2


CHINESE = (
    "国际观察：阿勒颇的人道主义危机继续加深。联合国官员周二表示，过去一周内，城市东部的医院、学校和市场接连遭到空袭，"
    "数百名平民在袭击中丧生，另有数千人受伤。援助车队仍然无法进入被围困的街区，食品和药品的储备已经接近耗尽。"
    "联合国人道主义事务协调员呼吁各方立即停火七十二小时，以便撤离伤员并运送救援物资。他说，国际社会不能继续袖手旁观。"
    "与此同时，俄罗斯和美国的外交官在日内瓦再次会面，但双方在停火监督机制问题上仍存在严重分歧。分析人士认为，"
    "如果谈判继续陷入僵局，冬季来临之前的人道主义形势将更加严峻。当地居民说，他们每天晚上都能听到爆炸声，孩子们已经很久没有上学了。"
)


def test_a_chinese_article_and_its_repost_are_one_article(database: Database) -> None:
    # Chinese is written without spaces: as words, this text is a dozen "sentences".
    assert len(fingerprint.shingles(CHINESE)) > 200
    repost = "作者：斯蒂芬·伦德曼\n" + CHINESE.replace("国际观察：", "").replace("他说，国际社会不能继续袖手旁观。", "")
    ids = match(database, ("cn-blog", "/aleppo", CHINESE), ("cn-repost", "/aleppo", repost))
    assert placements(database)[ids["cn-repost/aleppo"]] == ("copy", ids["cn-blog/aleppo"])


def test_words_of_unspaced_scripts_are_characters_and_punctuation_separates_words() -> None:
    assert fingerprint.tokens("你好，世界。") == ["你", "好", "世", "界"]
    assert fingerprint.tokens("سوريا، حلب") == ["سوريا", "حلب"]
    assert fingerprint.tokens("Привет, мир") == ["привет", "мир"]
    words = fingerprint.word_hashes(fingerprint.matching_text("你好，世界。"))
    assert len(words) == 4  # the shingles see the same words the alignment does


BIO = (
    "Stephen Lendman lives in Chicago and writes on the wars, the economy and the media every day.\n"
    "His new book is Flashpoint in Ukraine: How the US Drive for Hegemony Risks World War III, "
    "and he hosts the Progressive Radio News Hour on the Progressive Radio Network twice a week."
)


def test_an_author_box_an_aggregator_keeps_under_every_repost_is_learned_as_its_boilerplate(database: Database) -> None:
    # The author's theme puts the bio in a div.author-bio that extraction drops; the
    # aggregator pastes it as plain paragraphs under each repost. On a short article the
    # bio is half the copy: without learning it, the copy keeps too little of... itself.
    article = HAITI[1]
    pages = [("rbn", f"/other-{n}", f"{MOSUL[n]}\n{BIO}") for n in (3, 4)]
    ids = match(database, *pages, ("blog", "/haiti", article), ("rbn", "/haiti", f"{article}\n{BIO}"))
    assert placements(database)[ids["rbn/haiti"]] == ("copy", ids["blog/haiti"])
    assert placements(database)[ids["blog/haiti"]][0] == "origin"


def test_a_line_is_a_sites_boilerplate_from_its_third_article_on(database: Database) -> None:
    # Two pages are no pattern: the same text could be an article the site posted twice.
    with database.session() as s, s.begin():
        source = catalog.ensure_source(s, "rbn", "repost").id
        author = catalog.ensure_source(s, "author", "origin").id
        site_lines = SiteLines(s)
        for n in (1, 2):
            site_lines.add(source, f"{HAITI[n]}\n{BIO}")
        assert site_lines.repeated(source, f"{HAITI[3]}\n{BIO}") == frozenset()
        site_lines.add(source, f"{HAITI[3]}\n{BIO}")
        site_lines.flush()
        assert site_lines.repeated(source, f"{HAITI[3]}\n{BIO}") == frozenset(fingerprint.lines(BIO))
        for n in (1, 2, 3):
            site_lines.add(author, f"{HAITI[n]}\n{BIO}")
        assert site_lines.repeated(author, f"{HAITI[3]}\n{BIO}") == frozenset()  # an author's sign-off is his


def test_a_copy_whose_partner_kept_an_author_box_is_a_copy_though_it_keeps_under_60_percent(database: Database) -> None:
    # The origin's theme hides its author box from extraction; this once the copy's page
    # showed it. The origin keeps 55 % of the copy and says nothing of being cut short.
    ids = match(database, ("blog", "/haiti", HAITI[1]), ("rbn", "/haiti", f"{HAITI[1]}\n{BIO}"))
    assert placements(database)[ids["rbn/haiti"]][0] == "copy"


@pytest.mark.parametrize("origin_first", [True, False])
def test_an_excerpt_is_no_copy_of_a_shorter_copy_of_its_source(database: Database, origin_first: bool) -> None:
    # A scraper keeps 57 % of the article; an aggregator's copy dropped two paragraphs, so
    # the excerpt keeps over 60 % of that copy. Measured on the cluster, it is an excerpt.
    words = "\n".join(MOSUL).split()
    origin = " ".join(words)
    copy = "\n".join(MOSUL[:3] + MOSUL[5:])
    excerpt = " ".join(words[: len(words) * 57 // 100]) + " …\nRead more at the blog"
    assert alignment.shares(excerpt, copy).covered > 0.6
    pages = [("blog", "/mosul", origin), ("rbn", "/mosul", copy), ("scraper", "/mosul", excerpt)]
    ids = match(database, *(pages if origin_first else pages[::-1]))
    assert links(database) == {
        (ids["scraper/mosul"], ids["blog/mosul"], "excerpt"),
        (max(ids["rbn/mosul"], ids["blog/mosul"]), min(ids["rbn/mosul"], ids["blog/mosul"]), "copy"),
    }
    assert placements(database)[ids["scraper/mosul"]][0] == "excerpt"


def test_the_sign_off_under_each_of_an_authors_articles_counts_in_what_an_excerpt_keeps(database: Database) -> None:
    # The author's site ends every article with the same two lines; a scraper keeps the first
    # 57 % of one, sign-off included: without the sign-off it would keep over 60 %.
    words = "\n".join(MOSUL).split()
    article = " ".join(words[:150]) + "\n" + BIO
    cut = " ".join(article.split()[: len(article.split()) * 57 // 100]) + "\nContinue reading"
    assert alignment.shares(cut, " ".join(words[:150])).covered > 0.6
    ids = match(
        database,
        *(("author", f"/other-{n}", f"{HAITI[n]}\n{BIO}") for n in (1, 2)),
        ("author", "/mosul", article),
        ("scraper", "/mosul", cut),
    )
    assert placements(database)[ids["scraper/mosul"]] == ("excerpt", ids["author/mosul"])


def test_a_brief_on_a_site_whose_comments_extraction_keeps_is_found_by_its_repost(database: Database) -> None:
    # A theme whose comment section trafilatura keeps: every page is one short brief and the
    # same long comments. Learned from the site, the comments go before fingerprinting, so
    # the brief's repost is a candidate and a copy; two briefs of the site stay apart.
    comments = "\n".join(HAITI)
    briefs = [" ".join(MOSUL[n].split()[:40]) for n in (0, 2, 3)]
    # Only short posts show the comments: the site's longer ones come in between.
    longer = [("courier", f"/post-{n}", " ".join(f"w{n}x{i}" for i in range(80))) for n in range(30)]
    ids = match(
        database,
        ("digest", "/brief-0", f"by Greta Nowak\n{briefs[0]}"),
        *(("courier", f"/brief-{n}", f"{brief}\n{comments}") for n, brief in enumerate(briefs[:2])),
        *longer,
        ("courier", "/brief-2", f"{briefs[2]}\n{comments}"),
        ("digest", "/brief-2", f"by Greta Nowak\n{briefs[2]}"),
    )
    # The first two were indexed with the comments and matched again once they were learned.
    assert links(database) == {
        (ids["courier/brief-0"], ids["digest/brief-0"], "copy"),
        (ids["digest/brief-2"], ids["courier/brief-2"], "copy"),
    }


def test_a_copy_whose_sites_byline_becomes_boilerplate_is_indexed_again_and_stays_placed(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A WordPress repost site heads every post "Posted in News by RBN Staff": from its third
    # post on, that line is its boilerplate, and its first posts, fingerprinted with it, are
    # indexed again without it. A copy already in its story's cluster, with no candidate
    # elsewhere, keeps its placement: placing a cluster of 200 again from scratch took 0.3 s.
    header = "Posted in News by RBN Staff on the front page"
    ids = match(
        database,
        ("author", "/mosul", "\n".join(MOSUL)),
        ("rbn", "/mosul", "\n".join([header, *MOSUL])),
        ("author", "/haiti", "\n".join(HAITI)),
        ("rbn", "/haiti", "\n".join([header, *HAITI])),
    )
    before = placements(database)
    replaced: list[set[int]] = []
    placed_from_scratch = matching._placed_from_scratch
    monkeypatch.setattr(matching, "_placed_from_scratch",
                        lambda s, article_id: replaced.append(found := placed_from_scratch(s, article_id)) or found)
    third = match(database, ("rbn", "/other", "\n".join([header, *(" ".join(p.split()[::-1]) for p in MOSUL)])))
    assert placements(database).items() >= before.items()
    assert not [ids_ for ids_ in replaced if ids["rbn/mosul"] in ids_ or ids["rbn/haiti"] in ids_]
    with database.session() as s:
        stored = NearDupIndex(database).fingerprints([ids["rbn/mosul"]], session=s)[ids["rbn/mosul"]]
    assert stored.shingles.tolist() == matching.Fingerprint.of("\n".join(MOSUL)).shingles.tolist()
    assert placements(database)[third["rbn/other"]][0] == "unique"


def test_dedup_rebuild_gives_what_the_crawls_gave(database: Database) -> None:
    # Pages matched one batch at a time, as a crawl stores them, then all again in one
    # rebuild: site boilerplate, citations and excerpts are learned in the same order.
    comments = "\n".join(HAITI)
    words = "\n".join(MOSUL).split()
    ids = match(
        database,
        ("scraper", "/teaser", " ".join(words[:35]) + "\nRead more at http://blog.test/mosul"),
        *(("courier", f"/brief-{n}", f"{' '.join(MOSUL[n].split()[:40])}\n{comments}") for n in (0, 2, 3)),
        ("digest", "/brief", " ".join(MOSUL[3].split()[:40])),
        ("blog", "/mosul", " ".join(words)),
        ("rbn", "/mosul", "\n".join(MOSUL[:3] + MOSUL[5:])),
        ("cut", "/mosul", " ".join(words[: len(words) * 57 // 100])),
    )
    crawled = links(database), placements(database)
    assert len(crawled[0]) >= 4
    with database.session() as s, s.begin():
        matching.rebuild(s, NearDupIndex(database))
    assert (links(database), placements(database)) == crawled
    assert len(ids) == 8


def test_a_copy_of_a_copy_that_keeps_half_the_origin_is_no_excerpt_of_it(database: Database) -> None:
    # Origin -> aggregator (drops a paragraph and the last one) -> a repost of that (drops
    # another, strips links): half of the origin is left, lost all through it, not cut off.
    parent = MOSUL[:2] + MOSUL[3:6]
    copy = " ".join(strip_links(" ".join(parent[:2] + parent[3:]).split()))
    assert alignment.shares(copy, "\n".join(MOSUL)).covered < 0.6
    ids = match(database, ("blog", "/mosul", "\n".join(MOSUL)), ("wire", "/mosul", "\n".join(parent)),
                ("relay", "/mosul", copy))
    assert links(database) == {(ids["wire/mosul"], ids["blog/mosul"], "copy"), (ids["relay/mosul"], ids["wire/mosul"], "copy")}


def test_a_bio_both_copies_keep_is_compared_though_one_site_repeats_it(database: Database) -> None:
    # Two aggregators paste the author's box under his reposts; one has done it often
    # enough for the box to be its boilerplate. Both copies keep it: taking it from one
    # only would make that one look cut from the other.
    ids = match(
        database,
        *(("wire", f"/other-{n}", f"{MOSUL[n]}\n{BIO}") for n in (3, 4)),
        ("global", "/haiti", f"{HAITI[1]}\n{BIO}"),
        ("wire", "/haiti", f"{HAITI[1]}\n{BIO}"),
    )
    assert placements(database)[ids["wire/haiti"]] == ("copy", ids["global/haiti"])


@pytest.mark.parametrize(
    ("text", "marked"),
    [
        ("First lines of the article\nRead more at Republic Wire", True),
        ("First lines of the article, cut inside a sentence …", True),
        ("The WordPress excerpt of a post [&hellip;]".replace("&hellip;", "…"), True),
        ("First lines\nContinue reading →\nShare this:", True),
        ("A whole article.\nIts last paragraph ends here.", False),
    ],
)
def test_an_excerpt_says_it_is_cut_short(text: str, marked: bool) -> None:
    assert fingerprint.marks_a_cut(text) is marked


def test_an_excerpt_below_a_themes_teaser_block_is_linked_to_the_page_it_cites(database: Database) -> None:
    # The scraper's theme puts another post's teaser above the excerpt, and extraction keeps
    # it: the shared text starts too far down to be the lead, but the excerpt names its source.
    words = "\n".join(MOSUL).split()
    teaser = " ".join(HAITI[0].split()[:40])
    excerpt = f"{teaser}\n" + " ".join(words[:110]) + "\nRead more at http://blog.test/mosul"
    shares = alignment.shares(excerpt, " ".join(words))
    assert not shares.lead and shares.contained < 0.8
    ids = match(database, ("blog", "/mosul", " ".join(words)), ("scraper", "/mosul", excerpt))
    assert placements(database)[ids["scraper/mosul"]] == ("excerpt", ids["blog/mosul"])


@pytest.mark.parametrize("credited_first", [True, False])
def test_an_excerpt_crediting_its_source_by_site_name_is_linked(database: Database, credited_first: bool) -> None:
    # "Read more at Free Press Digest": a short excerpt, too little for the LSH index,
    # and no URL; the site's name leads to its articles, whichever is archived first.
    article = "\n".join(MOSUL + HAITI)
    excerpt = " ".join(article.split()[:35]) + " …\nRead more at Free Press Digest"
    assert fingerprint.jaccard(fingerprint.shingles(excerpt), fingerprint.shingles(article)) < 0.2
    # This page's metadata gives the host as the site name; only later pages give its name,
    # and the source is configured as "digest".
    pages = [("digest", "/mosul", article, "digest.test"),
             ("scraper", "/mosul", excerpt, "NewsFeedr")]
    ids = {}
    other = ("digest", "/haiti", "\n".join(HAITI[:4]), "Free Press Digest: Haiti")
    for site, path, text, sitename in [*(pages if credited_first else pages[::-1]), other]:
        with database.session() as s, s.begin():
            row = store(s, site, path, text)
            row.sitename = sitename
            matching.match_many(s, NearDupIndex(database), [(row, None)])
            ids[site + path] = row.id
    assert placements(database)[ids["scraper/mosul"]] == ("excerpt", ids["digest/mosul"])


def test_a_paragraph_a_copy_replaced_by_its_own_line_is_one_cut_in_its_edits() -> None:
    # An aggregator drops a paragraph and puts its own line there: a longest common
    # subsequence pairs that line's "the"s with the paragraph's, splitting the cut that tells
    # which copy was reposted from which.
    origin = "\n".join(MOSUL[:5])
    start = len(fingerprint.tokens("\n".join(MOSUL[:2])))
    end = start + len(fingerprint.tokens(MOSUL[2]))
    copy = "\n".join([*MOSUL[:2], "The mayor of the town said the army had left the area", *MOSUL[3:5]])
    edits = alignment.edits(origin, copy)
    assert (start, end) in edits.runs
    assert edits.deleted == frozenset(range(start, end))
