"""Fingerprints: normalisation, repost boilerplate, shingles, containment and MinHash signatures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from lxml import html

from archive.syndication import fingerprint as fp

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "syndicrawl" / "demo" / "content"
SEED = DEMO / "rbn-repost-lendman-aleppo-2016-11-01.txt"  # the user's example, as captured


def blog_post(body: str) -> str:
    """A demo blog post as extraction yields it: one paragraph a line, the author's footer last."""
    paragraphs = [
        *html.fragments_fromstring((DEMO / body).read_text()),
        *html.fragments_fromstring((DEMO / "blog-footer.html").read_text()),
    ]
    return "\n".join(p.text_content() for p in paragraphs)


def mojibake(text: str) -> str:
    """``text`` as a windows-1252 reader shows its UTF-8 bytes (undefined bytes as C1 controls, like browsers)."""
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8"))


@pytest.fixture(scope="module")
def repost() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def original() -> str:
    return blog_post("blog-us-supported-terrorists-fail-to-break.html")


# --- normalize -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Russia hasn\u2019t \u201cbombed\u201d Aleppo", 'russia hasn\'t "bombed" aleppo'),
        ("\u2018single\u2019 \u201edouble\u201c \u00abguillemets\u00bb", '\'single\' "double" "guillemets"'),
        (
            "encircling them \u2013 so far \u2014 unsuccessfully \u2212 1",
            "encircling them - so far - unsuccessfully - 1",
        ),
        ("anti-Russia\u2026", "anti-russia..."),
        ("Stephen\u00a0Lendman \u2002lives\t\tin\n\nChicago ", "stephen lendman lives in chicago"),
        ("\ufb01ne \u2460 \uff21\uff22", "fine 1 ab"),  # NFKC: ligature, circled digit, fullwidth
        ("soft\u00adhyphen zero\u200bwidth \ufeffBOM", "softhyphen zerowidth bom"),
        ("STRASSE Stra\u00dfe", "strasse strasse"),
    ],
)
def test_normalize_folds_typography_space_and_case(raw: str, expected: str) -> None:
    assert fp.normalize(raw) == expected


def test_normalize_repairs_windows_1252_and_latin_1_mojibake(repost: str) -> None:
    assert mojibake("It\u2019s caf\u00e9") == "It\u00e2\u20ac\u2122s caf\u00c3\u00a9"
    assert fp.normalize(mojibake("It\u2019s caf\u00e9")) == "it's caf\u00e9"
    # U+201D is E2 80 9D: 0x9D is undefined in windows-1252 and survives as a C1 control
    assert fp.normalize(mojibake("\u201cquoted\u201d \u2014 na\u00efve")) == '"quoted" - na\u00efve'
    assert fp.normalize(mojibake(repost)) == fp.normalize(repost)
    assert fp.normalize(repost.encode("utf-8").decode("latin-1")) == fp.normalize(repost)
    # real accented text is not mistaken for mojibake
    assert fp.normalize("d\u00e9j\u00e0 \u00e9t\u00e9") == "d\u00e9j\u00e0 \u00e9t\u00e9"


# --- boilerplate lines -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "November 1, 2016 in News by RBN Staff",  # the seed's dateline, exactly
        "by Stephen Lendman",  # the seed's byline, exactly
        "US-Supported Terrorists Fail to Break Aleppo Siege by Stephen Lendman ( \u2013 Home \u2013 Stephen Lendman)",
        "Posted on November 1, 2016 by admin",
        "1 November 2016 | Syria",
        "2016-11-01 15:22 RBN Staff",
        "Written by Stephen Lendman",
        "This article originally appeared at sjlendman.blogspot.com",
        "This article was originally published on Global Research.",
        "The post US-Supported Terrorists Fail appeared first on RBN.",
        "Originally published at Stephen Lendman's blog.",
        "First appeared in Global Research",
        "Reprinted with permission from the author.",
        "Read more at https://sjlendman.blogspot.com/2016/11/us-supported.html",
        "Continue reading \u2192",
        "Source: Fars News",
        "Via: RT",
        "Share this:",
        "Like this:",
        "Share on Facebook",
        "Tweet Email Print",
        "Subscribe to our newsletter",
        "Copyright \u00a9 2016 RBN. All rights reserved.",
        "Tags: Syria, Aleppo",
    ],
)
def test_repost_boilerplate_lines_are_recognised(line: str) -> None:
    assert fp.is_boilerplate(fp.normalize(line))


@pytest.mark.parametrize(
    "line",
    [
        "Fact: Russia hasn\u2019t \u201cbombed\u201d eastern Aleppo since October 18.",
        "By Monday, government forces had repelled over a dozen offensives.",
        "US-Supported Terrorists Fail to Break Aleppo Siege",
        "Stephen Lendman lives in Chicago. He can be reached at",
        "Share prices fell in Moscow after Sergey Lavrov accused Washington and Ankara of supporting terrorists.",
        "The story of the siege first appeared in Western media only after Russia paused its air operations "
        "in Aleppo and opened corridors for civilians, weeks after the shelling of western districts began, "
        "and long after local reporters had described it in detail to anyone who would listen to them.",
    ],
)
def test_article_lines_are_kept(line: str) -> None:
    assert not fp.is_boilerplate(fp.normalize(line))


def test_matching_text_drops_the_seeds_header_and_keeps_its_body(repost: str) -> None:
    text = fp.matching_text(repost)
    assert text.startswith("us-supported terrorists fail to break aleppo siege according to fars news")
    assert "rbn staff" not in text
    assert "by stephen lendman" not in text
    assert text.endswith("on the progressive radio network.")
    assert fp.matching_text("Read more at https://x.example\n\n\u00a0\nSource: RT") == ""


# --- shingles and set measures ---------------------------------------------------------------


def test_shingles_are_sorted_unique_word_5_grams() -> None:
    words = "one two three four five six seven one two three four five".split()
    shingles = fp.shingles(" ".join(words))
    assert shingles.dtype == np.uint64
    assert np.all(np.diff(shingles.astype(np.float64)) > 0)  # sorted, unique
    assert len(shingles) == len(words) - 4 - 1  # 8 windows, "one two three four five" twice
    assert len(fp.shingles(" ".join(words), k=3)) == 7  # 10 windows, 3 repeated
    # word order matters; punctuation, quotes and case do not
    assert not np.array_equal(fp.shingles("a b c d e"), fp.shingles("e d c b a"))
    assert np.array_equal(fp.shingles("A, b; \u201cc\u201d \u2014 d... e!"), fp.shingles("a b c d e"))


def test_short_texts_yield_their_words() -> None:
    assert len(fp.shingles("Aleppo siege")) == 2
    assert np.array_equal(fp.shingles("siege Aleppo Aleppo"), fp.shingles("aleppo siege"))
    assert len(fp.shingles("")) == 0
    assert len(fp.shingles("by Stephen Lendman\nRead more at x")) == 0  # only boilerplate


def test_word_hashes_tokenise_on_punctuation_and_keep_non_ascii_letters() -> None:
    hashes = fp.word_hashes(fp.normalize("Caf\u00e9 d\u00e9j\u00e0-vu, caf\u00e9 (CAFE) \u00e9t\u00e9"))
    assert len(hashes) == 6
    assert hashes[0] == hashes[3] != hashes[4]
    assert hashes[1] != hashes[2]


_DETERMINISM = """
import sys
from archive.syndication import fingerprint as fp
shingles = fp.shingles(sys.argv[1])
print(shingles[:3].tolist(), fp.signature(shingles)[:3].tolist())
"""


def test_fingerprints_are_the_same_in_every_process(repost: str) -> None:
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _DETERMINISM, repost[:2000]],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1", "12345")
    }
    shingles = fp.shingles(repost[:2000])
    assert outputs == {f"{shingles[:3].tolist()} {fp.signature(shingles)[:3].tolist()}\n"}


def test_fingerprints_do_not_change_between_versions() -> None:
    # Stored signatures are only comparable with new ones if hashing never changes.
    shingles = fp.shingles("The quick brown fox jumps over the lazy dog")
    assert shingles.tolist()[:2] == GOLDEN_SHINGLES
    assert fp.signature(shingles)[:4].tolist() == GOLDEN_SIGNATURE


GOLDEN_SHINGLES = [1022522760459909618, 8442248525278272963]
GOLDEN_SIGNATURE = [129651534, 3053198234, 247653177, 73200162]


def test_containment_and_jaccard() -> None:
    a = np.array([1, 2, 3, 4], dtype=np.uint64)
    b = np.array([3, 4, 5, 6, 7, 8, 9, 10], dtype=np.uint64)
    assert fp.containment(a, b) == 0.5
    assert fp.containment(b, a) == 0.25
    assert fp.jaccard(a, b) == pytest.approx(2 / 10)
    assert fp.containment(a, a) == fp.jaccard(a, a) == 1.0
    empty = np.empty(0, dtype=np.uint64)
    assert fp.containment(empty, a) == fp.jaccard(empty, empty) == 0.0


# --- the user's example and hard negatives ---------------------------------------------------


def test_seed_repost_and_blog_original_contain_each_other(repost: str, original: str) -> None:
    copy, source = fp.shingles(repost), fp.shingles(original)
    # Only the title and the shingles around the stripped links differ.
    assert fp.containment(copy, source) > 0.95
    assert fp.containment(source, copy) > 0.95
    assert fp.jaccard(copy, source) > 0.9


def test_an_excerpt_is_contained_in_its_original(original: str) -> None:
    lines = original.splitlines()
    excerpt = "\n".join(
        [
            "November 1, 2016 in News by RBN Staff",
            *lines[: len(lines) // 2],
            "Read more at https://sjlendman.blogspot.com/",
        ]
    )
    part, whole = fp.shingles(excerpt), fp.shingles(original)
    assert fp.containment(part, whole) == 1.0
    assert 0.3 < fp.containment(whole, part) < 0.7


def test_same_author_same_topic_and_shared_footer_are_not_copies() -> None:
    info_war = fp.shingles(blog_post("blog-aleppo-and-the-information-war.html"))
    pause = fp.shingles(blog_post("blog-russia-pauses-aleppo-operations.html"))
    siege = fp.shingles(blog_post("blog-us-supported-terrorists-fail-to-break.html"))
    for a, b in [(info_war, pause), (pause, siege), (siege, info_war)]:
        # the footer alone is shared: about 55 of 400 shingles
        assert 0.05 < fp.containment(a, b) < 0.2
        assert fp.containment(b, a) < 0.2


def test_two_articles_quoting_the_same_long_paragraph_are_not_copies(repost: str) -> None:
    quote = repost.splitlines()[12]  # the 60-word Syrian Foreign Ministry letter
    assert len(quote.split()) > 50
    first = blog_post("blog-aleppo-and-the-information-war.html").replace("\n", f"\n{quote}\n", 1)
    second = blog_post("blog-battle-for-mosul-begins.html").replace("\n", f"\n{quote}\n", 1)
    a, b = fp.shingles(first), fp.shingles(second)
    assert fp.containment(a, b) < 0.35
    assert fp.containment(b, a) < 0.35


# --- MinHash ---------------------------------------------------------------------------------


def test_signature_is_datasketchs_minhash(repost: str) -> None:
    shingles = fp.shingles(repost)
    reference = MinHash(
        num_perm=fp.NUM_PERM, seed=fp.MINHASH_SEED, hashfunc=lambda h: fp.fold32(int(h)), scheme="affine32"
    )
    reference.update_batch(shingles)
    sig = fp.signature(shingles)
    assert sig.dtype == np.uint32
    assert np.array_equal(sig, reference.hashvalues)
    assert fp.minhash(sig).jaccard(reference) == 1.0


def test_signatures_in_bulk_equal_one_by_one(repost: str, original: str) -> None:
    sets = [
        fp.shingles(repost),
        np.empty(0, dtype=np.uint64),
        fp.shingles(original),
        fp.shingles("two words"),
    ]
    bulk = fp.signatures(sets, num_perm=64)
    assert bulk.shape == (4, 64)
    for row, shingles in zip(bulk, sets, strict=True):
        assert np.array_equal(row, fp.signature(shingles, num_perm=64))
    assert (bulk[1] == fp.EMPTY_HASH).all()


def test_estimated_jaccard_tracks_the_exact_one(repost: str, original: str) -> None:
    copy, source = fp.shingles(repost), fp.shingles(original)
    other = fp.shingles(blog_post("blog-aleppo-and-the-information-war.html"))
    for a, b in [(copy, source), (copy, other)]:
        estimate = fp.estimated_jaccard(fp.signature(a), fp.signature(b))
        assert estimate == pytest.approx(fp.jaccard(a, b), abs=0.1)
        assert estimate == fp.minhash(fp.signature(a)).jaccard(fp.minhash(fp.signature(b)))
