"""Full-text search (``archive.lookup.search``, ``syndicrawl search``) on both backends: what a query
finds, in what order, each page once, the index kept current by the database, bad queries as one line."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text, update

from archive.db.engine import Database, create_engine_for, sqlite_url, upgrade
from archive.db.fulltext import ID_BLOCK_BITS, day_cover, id_cover
from archive.db.models import Article, Capture, Source, Syndication
from archive.db.urls import url_key
from archive.errors import NotFoundError, QueryError
from archive.lookup import search as search_module
from archive.lookup.search import _ROUNDS, parse_query, search, snippet
from benchmarks import search_scale
from benchmarks.corpus_eval import material
from syndicrawl.cli import cli

T0 = datetime(2016, 11, 1, 12, 0, tzinfo=UTC)
_ids = count(1)


def add_page(
    db: Database, url: str, title: str, body: str, *, source: str = "gazette", author: str | None = None,
    published: str | None = "2016-11-01", status: str = "ok",
) -> int:
    """Store a capture of ``url`` and its article, as the archive writer does; return the article's id."""
    n = next(_ids)
    with db.session() as s, s.begin():
        site = s.query(Source).filter_by(name=source).one_or_none() or Source(name=source)
        s.add(site)
        s.flush()
        capture = Capture(
            source_id=site.id, url=url, url_key=url_key(url), timestamp=T0 + timedelta(minutes=n), status=200,
            mime="text/html", warc_file="t.warc.gz", warc_offset=n, warc_length=1, record_id=f"<urn:{n}>",
            payload_digest=f"sha1:{n}",
        )
        s.add(capture)
        s.flush()
        article = Article(capture_id=capture.id, url=url, title=title, text=body, author=author, published=published,
                          status=status)
        s.add(article)
        s.flush()
        return article.id


def urls(db: Database, query: str, **options: Any) -> list[str]:
    with db.connect() as conn:
        return [hit.url for hit in search(conn, query, **options)]


def test_every_word_and_phrase_is_required_and_titles_rank_first(database: Database) -> None:
    add_page(database, "http://a.example/1", "Ferry timetable", "The council met about the harbour.")
    add_page(database, "http://a.example/2", "Council news", "The new ferry timetable for the harbour was criticised.")
    add_page(database, "http://a.example/3", "Weather", "Rain over the harbour; no ferry today.")
    assert urls(database, "ferry timetable") == ["http://a.example/1", "http://a.example/2"]
    assert urls(database, '"ferry timetable"') == ["http://a.example/1", "http://a.example/2"]
    assert urls(database, '"timetable ferry"') == []
    assert urls(database, "FERRY rain") == ["http://a.example/3"]
    assert urls(database, "ferry")[0] == "http://a.example/1"  # in its title; the others' texts
    assert len(urls(database, "harbour", limit=2)) == 2


def test_a_word_in_more_articles_than_the_pool_is_ranked_among_the_newest(database: Database) -> None:
    """A common word (in 10% of 1M articles) is ranked among its newest matches only, a pool of
    ``_ROUNDS``' size a result wanted: the older page with the word in its title leads when the
    pool holds it, not when newer matches fill the pool; a filter that only it passes still finds it."""
    pool = _ROUNDS[database.engine.dialect.name][0][0]
    add_page(database, "http://a.example/old", "Ferry", "The ferry.", source="archive")
    newer = pool + 5
    for n in range(newer):
        add_page(database, f"http://b.example/{n}", "News", f"Item {n}: the ferry sails." + " Ferry again." * (n == newer - 2))
    best_new = f"http://b.example/{newer - 2}"
    assert urls(database, "ferry", limit=2)[0] == "http://a.example/old"  # a pool of 2 * pool: every match
    assert urls(database, "ferry", limit=1) == [best_new]  # the best of the newest `pool`
    assert urls(database, "ferry", limit=1, source="archive") == ["http://a.example/old"]
    assert urls(database, '"ferry again"', limit=1) == [best_new]


def test_a_term_in_more_than_common_articles_lists_titles_first_then_newest_on_sqlite(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FTS5's BM25 counts every article holding a term, once a query (50-240 ms at 1M articles for
    a common word or a phrase of common words): a query with a word in more than ``COMMON``
    articles lists the pool's titles holding it first, then the rest, each newest first; the word
    count no longer ranks."""
    monkeypatch.setattr(search_module, "COMMON", 4)
    with Database(sqlite_url) as db:
        add_page(db, "http://a.example/old-title", "Ferry again", "The ferry.")
        for n in range(4):
            add_page(db, f"http://b.example/{n}", "News", f"Item {n}: the ferry sails." + " Ferry again." * (n == 1))
        add_page(db, "http://a.example/new-title", "Ferry news", "A ferry.")
        add_page(db, "http://c.example/rare", "Harbour", "The harbour ferry.")
        newest_first = ["http://a.example/new-title", "http://a.example/old-title", "http://c.example/rare",
                        *(f"http://b.example/{n}" for n in (3, 2, 1, 0))]
        assert urls(db, "ferry") == newest_first
        assert urls(db, "ferry", limit=3) == newest_first[:3]
        assert urls(db, '"ferry again"') == ["http://a.example/old-title", "http://b.example/1"]
        # A phrase in 4 articles, of a common word: FTS5 walks the word's list for it all the same.
        assert urls(db, '"ferry sails"') == [f"http://b.example/{n}" for n in (3, 2, 1, 0)]
        assert urls(db, "harbour ferry") == ["http://c.example/rare"]
        monkeypatch.setattr(search_module, "COMMON", 100)  # BM25 again: the word counted, titles weigh 10
        assert urls(db, "ferry")[:3] == ["http://a.example/old-title", "http://a.example/new-title", "http://b.example/1"]


def test_a_page_is_listed_once_with_its_latest_article(database: Database) -> None:
    add_page(database, "http://a.example/page", "Old title", "The mayor resigned on Monday.")
    add_page(database, "https://www.a.example/page", "New title", "The mayor resigned on Tuesday.")
    add_page(database, "http://a.example/failed", "Mayor", "", status="failed")
    with database.connect() as conn:
        hits = search(conn, "mayor resigned")
    assert [(hit.url, hit.title) for hit in hits] == [("https://www.a.example/page", "New title")]
    assert urls(database, "monday") == []  # only the old capture said Monday


def test_the_index_follows_articles_stored_changed_and_removed(database: Database) -> None:
    first = add_page(database, "http://a.example/1", "Budget", "The budget passed.")
    assert urls(database, "budget") == ["http://a.example/1"]
    add_page(database, "http://b.example/2", "Budget vote", "Budget: a vote tomorrow.")
    assert set(urls(database, "budget")) == {"http://a.example/1", "http://b.example/2"}
    with database.session() as s, s.begin():
        s.execute(update(Article).where(Article.id == first).values(text="The harbour plan passed.", title="Plan"))
    assert urls(database, "budget") == ["http://b.example/2"]
    assert urls(database, "harbour") == ["http://a.example/1"]
    with database.session() as s, s.begin():  # as the doctor removes a capture: its article goes by cascade
        s.execute(delete(Capture).where(Capture.url == "http://b.example/2"))
    assert urls(database, "budget") == []
    assert urls(database, "vote") == []


def test_filters_source_author_and_published_day(database: Database) -> None:
    add_page(database, "http://a.example/1", "Election", "Vote count", source="a", author="Anna Berger",
             published="2016-11-01")
    add_page(database, "http://b.example/2", "Election", "Vote count", source="b", author="Tom Miller",
             published="2016-11-08T23:30:00-05:00")
    add_page(database, "http://b.example/3", "Election", "Vote count", source="b", author=None, published=None)
    assert urls(database, "election", source="a") == ["http://a.example/1"]
    add_page(database, "http://c.example/4", "Election", "Vote count", source="c", author="Ann Bergerson",
             published="November 1, 2016")
    assert urls(database, "election", source="a") == ["http://a.example/1"]
    assert urls(database, "election", author="BERGER") == ["http://a.example/1"]  # a word of the name, any case
    assert urls(database, "election", author="berger anna") == ["http://a.example/1"]
    assert urls(database, "election", author="Berg") == []  # words, not parts of them
    assert urls(database, "election", since=date(2016, 11, 2)) == ["http://b.example/2"]
    assert urls(database, "election", until=date(2016, 11, 1)) == ["http://a.example/1"]
    assert urls(database, "election", since=date(2016, 11, 8), until=date(2016, 11, 8)) == ["http://b.example/2"]
    assert urls(database, "election", since=date(2016, 1, 1), until=date(2016, 12, 31), source="b",
                author="Miller") == ["http://b.example/2"]
    # What filters is never found as a word: the author's name, the source and day tokens.
    assert urls(database, "berger") == []
    assert urls(database, "d20161101") == []
    with database.connect() as conn:
        with pytest.raises(NotFoundError, match="no source named 'd' in the archive"):
            search(conn, "election", source="d")
        with pytest.raises(QueryError, match="bad author '%': give a word of the author's name"):
            search(conn, "election", author="%")
        with pytest.raises(QueryError, match="bad dates: from 2016-11-08 is after to 2016-11-01"):
            search(conn, "election", since=date(2016, 11, 8), until=date(2016, 11, 1))


def test_filters_follow_an_article_rewritten(database: Database) -> None:
    """Extraction run again rewrites an article's author and date: the filters find its new ones only."""
    page = add_page(database, "http://a.example/1", "Election", "Vote count", author="Anna Berger",
                    published="2016-11-01")
    with database.session() as s, s.begin():
        s.execute(update(Article).where(Article.id == page).values(author="Tom Miller", published="2017-01-02"))
    assert urls(database, "election", author="berger") == []
    assert urls(database, "election", author="miller") == ["http://a.example/1"]
    assert urls(database, "election", until=date(2016, 12, 31)) == []
    assert urls(database, "election", since=date(2017, 1, 2)) == ["http://a.example/1"]


@pytest.mark.parametrize(("since", "until"), [
    (date(2016, 1, 5), date(2016, 4, 4)), (date(1999, 12, 31), date(2000, 1, 1)), (date(2016, 11, 1), None),
    (None, date(2016, 11, 8)), (date(2016, 2, 29), date(2016, 2, 29)),
])
def test_a_day_cover_holds_exactly_the_days_of_its_range(since: date | None, until: date | None) -> None:
    cover = day_cover(since, until)
    low, high = since or date(1900, 1, 1), until or date(2100, 12, 31)
    days = [low + timedelta(days=n) for n in range(-400, (high - low).days + 400)]
    for day in days:
        digits = day.isoformat().replace("-", "")
        covered = any(digits.startswith(token[1:]) for token in cover)
        assert covered == ((since is None or day >= since) and (until is None or day <= until)), day
    assert len(cover) <= 2 * 9 * 8


@pytest.mark.parametrize(("low", "high"), [(979_926, 1_000_000), (0, 300), (300, 300), (1, 5_000_000), (65_535, 65_536)])
def test_an_id_cover_holds_its_ids_and_only_whole_finest_blocks_more(low: int, high: int) -> None:
    """A search's window of the newest ids is the id blocks (PostgreSQL facets) of ``id_cover``:
    every id of it in one of them, no id outside the finest blocks of its edges, in few tokens."""
    finest = ID_BLOCK_BITS[0]
    blocks = [(int(bits), int(number)) for bits, number in (token[1:].split(".") for token in id_cover(low, high))]
    spans = sorted((number << bits, ((number + 1) << bits) - 1) for bits, number in blocks)
    assert all(a[1] + 1 == b[0] for a, b in zip(spans, spans[1:]))  # one run of ids, no block twice
    assert spans[0][0] == low >> finest << finest and spans[-1][1] == (high >> finest << finest) + (1 << finest) - 1
    assert len(blocks) <= 2 * 15 * (len(ID_BLOCK_BITS) - 1) + (high >> ID_BLOCK_BITS[-1]) + 1


def test_hits_name_their_cluster_relation_and_origin(database: Database) -> None:
    origin = add_page(database, "http://origin.example/story", "Storm", "A storm closed the port.", source="origin")
    copy = add_page(database, "http://copy.example/story", "Storm", "A storm closed the port. Via origin.",
                    source="copy")
    alone = add_page(database, "http://alone.example/x", "Storm", "Storm warnings.", source="alone")
    with database.session() as s, s.begin():
        s.add_all([
            Syndication(article_id=origin, cluster_id=origin, relation="origin", origin_id=origin),
            Syndication(article_id=copy, cluster_id=origin, relation="copy", origin_id=origin, parent_id=origin),
            Syndication(article_id=alone, cluster_id=alone, relation="unique", origin_id=alone),
        ])
    with database.connect() as conn:
        hits = {hit.url: hit for hit in search(conn, '"storm closed"') + search(conn, "warnings")}
    assert hits["http://copy.example/story"].to_dict() == {
        "url": "http://copy.example/story", "title": "Storm", "source": "copy", "author": None,
        "published": "2016-11-01", "captured": hits["http://copy.example/story"].captured,
        "snippet": "A **storm closed** the port. Via origin.", "cluster_id": origin, "relation": "copy",
        "origin_url": "http://origin.example/story",
    }
    assert (hits["http://origin.example/story"].relation, hits["http://origin.example/story"].cluster_id) == (
        "origin", origin)
    assert hits["http://alone.example/x"].relation is hits["http://alone.example/x"].cluster_id is None


def test_chinese_and_japanese_are_searched_as_substrings(database: Database) -> None:
    add_page(database, "http://zh.example/1", "中国经济", "国家统计局周一公布，中国经济第三季度增长百分之六点七。")
    add_page(database, "http://zh.example/2", "天气", "北京今天下雨，气温下降。")
    add_page(database, "http://ja.example/1", "東京の天気", "東京では明日、雪が降る見込みです。")
    assert urls(database, "中国") == ["http://zh.example/1"]
    assert urls(database, "经济增长") == []  # not adjacent in the text
    assert urls(database, "第三季度") == ["http://zh.example/1"]
    assert urls(database, "下雨") == ["http://zh.example/2"]
    assert urls(database, "雪が降る") == ["http://ja.example/1"]
    assert set(urls(database, "天")) == {"http://zh.example/2", "http://ja.example/1"}
    with database.connect() as conn:
        assert search(conn, "第三季度")[0].snippet == "国家统计局周一公布，中国经济**第三季度**增长百分之六点七。"
    # Filters on both of SQLite's paths (trigrams ranked, a short term scanned), and PostgreSQL's.
    add_page(database, "http://zh.example/3", "天气", "上海第三季度天气晴朗。", source="shanghai", author="Li Wei")
    assert urls(database, "第三季度", source="shanghai") == ["http://zh.example/3"]
    assert urls(database, "天", author="wei") == ["http://zh.example/3"]
    assert set(urls(database, "天", source="gazette", until=date(2016, 11, 1))) == {
        "http://zh.example/2", "http://ja.example/1"}
    assert urls(database, "天", since=date(2016, 11, 2)) == []


@pytest.mark.parametrize("begun_max", [search_module.BEGUN_MAX, 0], ids=["trigrams", "scanned"])
def test_a_term_of_one_or_two_characters_is_found_wherever_it_is(
    database: Database, begun_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Chinese word of two characters (most are) ends many a headline: on SQLite it is found by
    the trigrams it begins, and at a title's or text's very end it begins one only with the spaces
    the index adds; a term with too many trigrams is scanned instead, with the same result."""
    monkeypatch.setattr(search_module, "BEGUN_MAX", begun_max)
    add_page(database, "http://zh.example/end", "为人民服务", "文章的最后两个字是人民")
    add_page(database, "http://zh.example/title", "新闻：人民", "今天没有新闻。")
    add_page(database, "http://zh.example/none", "天气", "北京今天下雨。")
    assert set(urls(database, "人民")) == {"http://zh.example/end", "http://zh.example/title"}
    assert urls(database, "服务") == ["http://zh.example/end"]  # the title's last two characters
    assert set(urls(database, "民")) == {"http://zh.example/title", "http://zh.example/end"}
    assert urls(database, "雨") == ["http://zh.example/none"]  # the text's last but one
    assert urls(database, "经济") == urls(database, "人 经") == []
    assert urls(database, "人民 最后两个字") == ["http://zh.example/end"]  # with a ranked term
    assert urls(database, "今天 新闻") == ["http://zh.example/title"]


def test_diacritics_fold_on_sqlite(sqlite_url: str) -> None:
    with Database(sqlite_url) as db:
        add_page(db, "http://fr.example/1", "Café", "Le café de la gare ferme à midi.")
        assert urls(db, "cafe gare") == ["http://fr.example/1"]
        with db.connect() as conn:
            assert search(conn, "cafe")[0].snippet == "Le **café** de la gare ferme à midi."


def test_an_archive_from_before_the_index_is_searchable_after_its_upgrade(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0008")
    finally:
        engine.dispose()
    with Database(db_url, auto_upgrade=False) as old:
        add_page(old, "http://a.example/old", "Archived earlier", "Stored before search existed.")
        add_page(old, "http://zh.example/old", "旧文章", "搜索功能之前存储的文章。")
    with Database(db_url) as db:
        assert urls(db, "existed") == ["http://a.example/old"]
        assert urls(db, "存储") == ["http://zh.example/old"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('aleppo "siege', "bad query 'aleppo \"siege': a quote is not closed"),
        ("   ", "bad query '   ': give words or \"quoted phrases\" to search for"),
        ('""', "bad query '\"\"': give words or \"quoted phrases\" to search for"),
        ("aleppo ***", "bad query 'aleppo ***': '***' has no letter or digit to search for"),
    ],
)
def test_bad_queries_are_one_line(query: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse_query(query)
    assert str(raised.value) == message


def test_query_syntax_of_the_engines_is_plain_text(database: Database) -> None:
    add_page(database, "http://a.example/1", "NEAR AND OR NOT", "title:x col* ^start a-b (c) {d} 'e' f&g h|i !j k:*")
    for query in ("NEAR", "OR", "title:x", "col*", "^start", "a-b", "(c)", "{d}", "'e'", "f&g", "h|i", "!j", "k:*"):
        assert urls(database, query) == ["http://a.example/1"], query


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(alphabet=st.sampled_from('ab "*:^()-+&|!\'\\%_中国é\x00 NEAROT'), max_size=20))
def test_any_query_is_results_or_one_query_error(sqlite_url: str, query: str) -> None:
    with Database(sqlite_url) as db, db.connect() as conn:
        try:
            search(conn, query)
        except QueryError as exc:
            assert "\n" not in str(exc)


def test_snippet_is_around_the_most_terms_with_whole_words() -> None:
    body = "Start of the story. " + "filler words here " * 30 + "The harbour ferry timetable changes. " + "tail " * 50
    marked = snippet(body, ["ferry", "timetable"], chars=80)
    assert marked.startswith("… ") and marked.endswith(" …")
    assert "**ferry** **timetable**" in marked
    assert snippet("Only in the title", ["absent"]) == "Only in the title"


@pytest.mark.skipif(not material.CORPUS.is_dir(), reason=f"the shared corpus of real pages is not at {material.CORPUS}")
def test_generated_archive_answers_as_a_scan_of_its_texts(tmp_path: Path) -> None:
    """The benchmark's archive at 2,000 articles: every query of its mix finds what a scan finds, best first."""
    texts = search_scale.bases(60)
    rows = list(search_scale.articles(2_000, texts))
    mix = search_scale.queries(texts, per_kind=3)
    with Database(sqlite_url(tmp_path)) as db:
        db.connect().close()
        search_scale.load(db, iter(rows), len(rows))
        latest = {url_key(row.url): row for row in rows}  # later rows of a page replace earlier ones
        with db.connect() as conn:
            for query in mix:
                hits = search(conn, query.query, limit=1000, **query.options)
                expected = {row.url for row in latest.values() if _scan(row, query)}
                assert {hit.url for hit in hits} == expected, query
                assert len(hits) == len(expected), query


def _scan(row: search_scale.Row, query: search_scale.Query) -> bool:
    """Whether ``row`` holds every term of ``query`` and passes its filters, by plain string search."""
    document = f"{row.title}\n{row.text}".lower()
    for term in parse_query(query.query):
        words = re.findall(r"\w+", term.lower())
        pattern = r"\W+".join(map(re.escape, words))
        if not re.search(pattern if search_scale.CJK.search(term) else rf"(?<!\w){pattern}(?!\w)", document):
            return False
    options = query.options
    if "source" in options and f"site{row.source}" != options["source"]:
        return False
    if "author" in options and not set(options["author"].lower().split()) <= set(re.findall(r"\w+", (row.author or "").lower())):
        return False
    day = row.published[:10]
    return options.get("since", date.min).isoformat() <= day <= options.get("until", date.max).isoformat()


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    with Database(sqlite_url(data)) as db:
        add_page(db, "http://a.example/1", "Ferry timetable", "The new ferry timetable for the harbour.",
                 published="2016-11-01")
        add_page(db, "http://a.example/2", "Weather", "No ferry today.", published="2016-12-01")
    return data


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_search_command_lists_pages_with_marked_snippets(archive: Path) -> None:
    code, out = invoke("search", "ferry", "--data-dir", str(archive))
    assert code == 0, out
    assert out == (
        "1. Ferry timetable\n"
        "   http://a.example/1\n"
        "   gazette · published 2016-11-01\n"
        "   The new **ferry** timetable for the harbour.\n"
        "2. Weather\n"
        "   http://a.example/2\n"
        "   gazette · published 2016-12-01\n"
        "   No **ferry** today.\n"
        "2 pages found\n"
    )


def test_search_command_json_and_filters(archive: Path) -> None:
    code, out = invoke("search", "ferry", "--from", "2016-11-15", "--json", "--data-dir", str(archive))
    assert code == 0, out
    found = json.loads(out)
    assert found["query"] == "ferry"
    assert [hit["url"] for hit in found["results"]] == ["http://a.example/2"]
    assert set(found["results"][0]) == {
        "url", "title", "source", "author", "published", "captured", "snippet", "cluster_id", "relation", "origin_url"
    }


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["ferry", "--from", "yesterday"], "Error: bad time 'yesterday': give a date (2016-11-03), an ISO 8601 time "
                                           "(2016-11-03T12:00:00Z) or a timestamp (20161103120000)\n"),
        (['"ferry'], "Error: bad query '\"ferry': a quote is not closed\n"),
        (["ferry", "--source", "nope"], "Error: no source named 'nope' in the archive\n"),
    ],
)
def test_search_command_errors_are_one_line(archive: Path, args: list[str], error: str) -> None:
    code, out = invoke("search", *args, "--data-dir", str(archive))
    assert (code, out) == (1, error)


def test_search_needs_an_archive(tmp_path: Path) -> None:
    code, out = invoke("search", "ferry", "--data-dir", str(tmp_path))
    assert (code, out) == (1, f"Error: no archive at {tmp_path}\n")


def test_postgres_index_table_is_filled_by_the_trigger(postgres_url: str) -> None:
    with Database(postgres_url) as db:
        article = add_page(db, "http://a.example/1", "Ferry", "中国 ferry")
        with db.connect() as conn:
            document = conn.execute(text("SELECT document::text FROM search_articles WHERE article_id = :id"),
                                    {"id": article}).scalar_one()
    assert document == "'ferry':1A,4 '中':2 '国':3"  # each character a word, after the title's


def test_postgres_search_turns_seqscan_off_for_its_own_statements_only(postgres_url: str) -> None:
    """PostgreSQL's planner chose to read and decompress every document for a word in 15% of
    200,000 articles (1.7 s) over the GIN index: search turns sequential scans off, for its own
    statements only (the caller's setting is back after it, in the same transaction)."""
    with Database(postgres_url) as db:
        for n in range(30):
            add_page(db, f"http://a.example/{n}", "Ferry", f"The ferry {n}.")
        with db.connect() as conn:
            conn.execute(text("SET LOCAL enable_seqscan = on"))
            assert len(search(conn, "ferry", limit=5)) == 5
            assert conn.execute(text("SELECT current_setting('enable_seqscan')")).scalar() == "on"
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            search(conn, '"the ferry"', limit=5)
            assert conn.execute(text("SELECT current_setting('enable_seqscan')")).scalar() == "off"


def test_postgres_pool_from_windows_of_the_newest_ids_is_the_same_pool(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL looks for the pool among the newest ids first (``_windows``, sized from the
    planner's estimate of the matches; a word in 65% of 1M articles: 355 ms to sort every match by
    id, 6 ms in the newest 10,000): a window holding fewer matches than the pool is widened, so what
    is found never depends on the estimate. Here the newest ids are mostly other pages (the first
    windows too sparse), older ones dense with ferries."""
    from archive.lookup import search as searching

    pool = _ROUNDS["postgresql"][0][0]
    with Database(postgres_url) as db:
        for n in range(3 * pool):
            add_page(db, f"http://a.example/{n}", "Ferry" if n % 7 == 0 else "News",
                     f"The ferry {n}." + " Ferry again." * (n % 5 == 0), source="archive" if n % 3 else "gazette")
        for n in range(2 * pool):
            add_page(db, f"http://b.example/{n}", "Harbour", "The harbour." + " A ferry." * (n % 9 == 0))

        def found() -> list[list[str]]:
            return [urls(db, query, limit=limit, **options) for query in ("ferry", '"ferry again"', "harbour")
                    for limit in (1, 3, 20) for options in ({}, {"source": "gazette"})]

        monkeypatch.setattr(searching, "_estimated", lambda *_: 0.0)  # no window: every match read
        every_match = found()
        for estimate in (1e3, 1e4, 1e6):  # windows of ~24, ~2 and no id, then 10 times wider
            monkeypatch.setattr(searching, "_estimated", lambda *_, estimate=estimate: estimate)
            assert found() == every_match
    assert all(every_match)
