"""The near-duplicate index on SQLite and PostgreSQL: add, query, remove, persistence, recall."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from archive.db import catalog
from archive.db.engine import Database
from archive.db.models import Article, ArticleFingerprint, minhash_bands
from archive.errors import ConfigError
from archive.syndication import fingerprint as fp
from archive.syndication.neardup import NearDupIndex, band_keys, lsh_bands

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T0 = datetime(2016, 11, 1, 12, 0, tzinfo=UTC)
VOCABULARY = [f"w{i}" for i in range(20_000)]


def add_articles(s: Session, count: int) -> list[int]:
    """Create ``count`` bare articles (a fingerprint references its article) and return their ids."""
    source = catalog.ensure_source(s, "site", "origin")
    ids = []
    existing = s.scalar(select(func.count()).select_from(Article)) or 0
    for n in range(existing, existing + count):
        capture = catalog.add_capture(
            s,
            source_id=source.id,
            url=f"https://site.example/{n}",
            timestamp=T0,
            status=200,
            mime="text/html",
            warc_file="site.warc.gz",
            warc_offset=0,
            warc_length=1,
            record_id=f"<urn:uuid:{n}>",
            payload_digest="sha1:A",
        )
        ids.append(catalog.add_article(s, capture_id=capture.id, url=capture.url, text="").id)
    return ids


def article_paragraphs(rng: np.random.Generator) -> list[list[str]]:
    """An article of 300-900 words with Zipf-like frequencies, in paragraphs of 40-120 words."""
    weights = 1 / (np.arange(len(VOCABULARY)) + 2.7)
    words = rng.choice(len(VOCABULARY), size=int(rng.integers(300, 900)), p=weights / weights.sum())
    paragraphs, start = [], 0
    while start < len(words):
        stop = start + int(rng.integers(40, 121))
        paragraphs.append([VOCABULARY[w] for w in words[start:stop]])
        start = stop
    return paragraphs


def text_of(paragraphs: list[list[str]], header: tuple[str, ...] = ()) -> str:
    return "\n".join([*header, *(" ".join(p) for p in paragraphs)])


def edited(paragraphs: list[list[str]], rng: np.random.Generator, share: float) -> list[list[str]]:
    """``paragraphs`` with ``share`` of the words replaced by random ones."""
    return [
        [VOCABULARY[rng.integers(len(VOCABULARY))] if rng.random() < share else w for w in p]
        for p in paragraphs
    ]


def repost_of(paragraphs: list[list[str]], rng: np.random.Generator) -> str:
    """A repost: new dateline and byline, 10% of the words replaced, one paragraph dropped."""
    copy = edited(paragraphs, rng, 0.1)
    del copy[int(rng.integers(len(copy)))]
    return text_of(copy, ("November 1, 2016 in News by RBN Staff", "by Stephen Lendman"))


def excerpt_of(paragraphs: list[list[str]]) -> str:
    half = paragraphs[: max(1, len(paragraphs) // 2)]
    return text_of(half) + "\nRead more at https://origin.example/post"


def sig_of(text: str) -> np.ndarray:
    return fp.signature(fp.shingles(text))


@pytest.fixture
def article_ids(database: Database) -> list[int]:
    with database.session() as s, s.begin():
        return add_articles(s, 40)


def test_default_bands_find_99_percent_of_pairs_at_the_threshold() -> None:
    assert lsh_bands(0.3, 128) == (64, 2)
    bands, rows = lsh_bands(0.3, 128)
    assert 1 - (1 - 0.3**rows) ** bands >= 0.99
    assert 1 - (1 - 0.3 ** (rows + 1)) ** (128 // (rows + 1)) < 0.99  # longer bands would miss pairs
    assert lsh_bands(0.6, 128) == (42, 3)
    with pytest.raises(ValueError, match="cannot find"):
        lsh_bands(0.01, 16)


def test_band_keys_carry_the_band_number_and_skip_empty_sets() -> None:
    sig = sig_of("a text long enough to have a few shingles in it")
    keys = band_keys(sig, 64, 2)
    assert keys.dtype == np.int64 and len(keys) == 64 == len(set(keys.tolist()))
    assert [int(k) >> 56 & 0xFF for k in keys] == list(range(64))
    assert len(band_keys(fp.signature(np.empty(0, dtype=np.uint64)), 64, 2)) == 0


def test_add_query_remove(database: Database, article_ids: list[int]) -> None:
    rng = np.random.default_rng(1)
    articles = {article_id: article_paragraphs(rng) for article_id in article_ids}
    index = NearDupIndex(database)
    for article_id, paragraphs in articles.items():
        shingles = fp.shingles(text_of(paragraphs))
        index.add(article_id, fp.signature(shingles), shingles)
    assert len(index) == 40
    target = article_ids[7]
    copy = sig_of(repost_of(articles[target], rng))
    assert index.query(copy) == [target]
    assert index.query(copy, limit=1) == [target]
    assert index.remove(target) is True
    assert index.query(copy) == []
    assert index.remove(target) is False
    assert len(index) == 39
    with database.session() as s:
        rows = s.scalar(select(func.count()).select_from(minhash_bands))
    assert rows == 39 * index.bands


def test_candidates_come_most_shared_bands_first(database: Database, article_ids: list[int]) -> None:
    rng = np.random.default_rng(2)
    paragraphs = article_paragraphs(rng)
    exact, light, heavy = article_ids[:3]
    index = NearDupIndex(database)
    index.add(heavy, sig_of(text_of(edited(paragraphs, rng, 0.15))))
    index.add(light, sig_of(text_of(edited(paragraphs, rng, 0.05))))
    index.add(exact, sig_of(text_of(paragraphs)))
    assert index.query(sig_of(text_of(paragraphs))) == [exact, light, heavy]
    assert index.query(sig_of(text_of(paragraphs)), limit=2) == [exact, light]


def test_planted_copies_and_excerpts_are_found(database: Database) -> None:
    rng = np.random.default_rng(3)
    with database.session() as s, s.begin():
        ids = add_articles(s, 150)
    articles = {article_id: article_paragraphs(rng) for article_id in ids}
    index = NearDupIndex(database)
    added = index.add_many(
        ((article_id, sig_of(text_of(p)), None) for article_id, p in articles.items()), batch_size=64
    )
    assert added == len(index) == 150
    false_candidates = 0
    for article_id in ids[:60]:
        paragraphs = articles[article_id]
        for query in (repost_of(paragraphs, rng), excerpt_of(paragraphs)):
            candidates = index.query(sig_of(query))
            assert article_id in candidates
            false_candidates += len(candidates) - 1
    assert false_candidates <= 2


def test_index_survives_a_restart(db_url: str) -> None:
    first = Database(db_url)
    try:
        with first.session() as s, s.begin():
            article_id = add_articles(s, 1)[0]
        shingles = fp.shingles(SEED_TEXT)
        NearDupIndex(first).add(article_id, fp.signature(shingles), shingles)
    finally:
        first.dispose()
    second = Database(db_url)
    try:
        index = NearDupIndex(second)
        assert index.query(sig_of(SEED_TEXT.replace("Monday", "Tuesday"))) == [article_id]
        stored = index.fingerprints([article_id, 999])
        assert list(stored) == [article_id]
        assert np.array_equal(stored[article_id].shingles, shingles)
        assert np.array_equal(stored[article_id].signature, fp.signature(shingles))
        assert index.fingerprints([article_id], with_shingles=False)[article_id].shingles is None
    finally:
        second.dispose()


def test_adding_again_replaces_the_old_fingerprint(database: Database, article_ids: list[int]) -> None:
    rng = np.random.default_rng(4)
    before, after = sig_of(text_of(article_paragraphs(rng))), sig_of(text_of(article_paragraphs(rng)))
    index = NearDupIndex(database)
    index.add(article_ids[0], before)
    index.add(article_ids[0], after)
    index.add_many([(article_ids[1], after, None), (article_ids[0], after, None)])
    assert index.query(before) == []
    assert index.query(after) == [article_ids[0], article_ids[1]]
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(minhash_bands)) == 2 * index.bands
        assert s.scalar(select(func.count()).select_from(ArticleFingerprint)) == 2


def test_an_empty_text_is_stored_without_bands(database: Database, article_ids: list[int]) -> None:
    index = NearDupIndex(database)
    empty = sig_of("")
    index.add(article_ids[0], empty, fp.shingles(""))
    assert len(index) == 1
    assert index.query(empty) == []
    assert len(index.fingerprints([article_ids[0]])[article_ids[0]].shingles) == 0


def test_a_deleted_article_is_no_longer_a_candidate(database: Database, article_ids: list[int]) -> None:
    index = NearDupIndex(database)
    sig = sig_of(SEED_TEXT)
    index.add(article_ids[0], sig)
    index.add(article_ids[1], sig)
    with database.session() as s, s.begin():
        s.execute(delete(Article).where(Article.id == article_ids[0]))
    # the fingerprint went with the article; its band rows are ignored
    assert index.query(sig) == [article_ids[1]]
    assert index.fingerprints([article_ids[0]]) == {}


def test_writes_join_the_callers_transaction(database: Database) -> None:
    index = NearDupIndex(database)
    sig = sig_of(SEED_TEXT)
    with database.session() as s, s.begin():
        kept = add_articles(s, 1)[0]
        index.add(kept, sig, session=s)
        assert index.query(sig, session=s) == [kept]
    with database.session() as s:
        s.begin()
        dropped = add_articles(s, 1)[0]
        index.add(dropped, sig, session=s)
        s.rollback()
    assert index.query(sig) == [kept]


def test_signatures_of_another_size_are_refused(database: Database, article_ids: list[int]) -> None:
    index = NearDupIndex(database)
    with pytest.raises(ValueError, match=r"article \d+: signature of shape \(64,\)"):
        index.add(article_ids[0], fp.signature(fp.shingles(SEED_TEXT), num_perm=64))
    assert len(index) == 0


def test_an_index_built_with_other_parameters_is_refused(database: Database, article_ids: list[int]) -> None:
    NearDupIndex(database).add(article_ids[0], sig_of(SEED_TEXT))
    with pytest.raises(ConfigError, match=r"threshold=0\.6 \(42 bands of 3 rows\).*clear\(\) it"):
        NearDupIndex(database, threshold=0.6).query(sig_of(SEED_TEXT))
    with pytest.raises(ConfigError, match="num_perm=64"):
        NearDupIndex(database, num_perm=64).query(fp.signature(fp.shingles(SEED_TEXT), num_perm=64))
    rebuilt = NearDupIndex(database, threshold=0.6)
    rebuilt.clear()
    rebuilt.add(article_ids[0], sig_of(SEED_TEXT))
    assert rebuilt.query(sig_of(SEED_TEXT)) == [article_ids[0]]


def test_index_accepts_a_session_factory(database: Database, article_ids: list[int]) -> None:
    index = NearDupIndex(database.session)
    index.add(article_ids[0], sig_of(SEED_TEXT))
    assert index.query(sig_of(SEED_TEXT)) == [article_ids[0]]


SEED_TEXT = """\
According to Fars News, thousands of al-Nusra and affiliated terrorist fighters failed to meet the coalition's \
military objective of lifting the siege on our comrades trapped in the eastern part of the city.
After days of heavy clashes, government forces outfought them, repelling over a dozen offensives to break through.
On Monday, the General Command of the Syrian Army and Armed Forces said foreign-supported terrorists are exploiting \
Russia's humanitarian pause in aerial operations in Aleppo to terrorize its residents.
"""
