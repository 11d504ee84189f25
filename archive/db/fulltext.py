"""The full-text index of articles' titles and texts, kept current by the database itself.

Triggers on ``articles`` maintain it, so every writer (the archive writer, the importer, the
doctor removing rows) keeps it current without knowing it exists. Its tables are not in
``models.py``: they are built from SQL the ORM cannot express (FTS5 virtual tables, tsvector),
by these statements, from migration 0009 on an existing archive and after ``create_all`` on a
new one. ``is_index_table`` names them for Alembic's comparison of models and schema.

SQLite: ``search_articles``, an FTS5 table over ``articles`` (external content: the text is
stored once) with the ``unicode61`` tokenizer, diacritics folded (``cafe`` finds ``café``).
``unicode61`` splits at spaces and punctuation, so Chinese and Japanese, written without
spaces, would be one token per sentence: articles holding such characters are also in
``search_articles_cjk``, an FTS5 ``trigram`` table (substring search), which queries with
such characters use. Only those articles: trigrams of every text would make the index three
times larger and a common word's query read a list of nearly every article. A term of one or
two characters has no trigram of its own: it is looked for as the trigrams it begins, listed by
the table's vocabulary (``search_articles_cjk_terms``); the table holds each title and text with
two spaces after it (``CJK_END``), so that a term at the very end of one begins trigrams too.

PostgreSQL: ``search_articles`` holds each article's ``tsvector`` (title weighted A, text D)
under a GIN index, with the ``simple`` configuration (no stemming or stop words: the archive
holds every language, and one language's stemmer mangles the others). Chinese and Japanese
characters are made one token each before parsing (``cjk_spaced``), so a query's run of them
is searched as a phrase of single characters.

GIN stores which documents hold a word, not where: a phrase of common words ("die als") was
found by reading the document of every article holding both words (p99 112 ms at 100,000
articles). So each article also has ``pairs``, a hash of each two words next to each other
(``search_articles_pairs``: from the document's own positions, so the pairs of every phrase it
matches are in it), in the same GIN index: a phrase's pairs give the articles holding it
(and, for rare hash collisions or phrases of three words or more, a few to check), without
reading documents. Ranking never reads ``pairs``; it roughly doubles the cost of indexing an article.

Filters are in the index too, as facets matched with the words (a filtered search's pool then
holds only pages that pass): the article's source (``s`` and its id), its day of publication
(``d`` and each prefix of the date's digits, so that a range of days is a few tokens:
``day_cover``) and its author's words. On SQLite the author's words and the other facets are
two more FTS5 columns, never ranked (the words of a query are looked for in ``{title text}``
only); their content is a view over ``articles`` and ``search_articles_facets``, the facets each
article was indexed with, kept because a row is removed with the values it was indexed with
and its capture may be gone by then. On PostgreSQL they are ``facets`` (the author's lexemes as
``a`` and each) and the blocks of ids the article is in (``id_cover``), in the same GIN index as
the document.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import event

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection

PREFIX = "search_articles"

#: Characters of scripts written without spaces between words: hiragana, katakana, CJK
#: ideographs (extension A, unified, compatibility). Hangul is written with spaces.
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK = re.compile(f"[{CJK_CLASS}]")
# SQLite's GLOB compares code points in a [...] class; PostgreSQL's regexp does too.
_SQLITE_HAS_CJK = f"GLOB '*[{CJK_CLASS}]*'"
#: After each title and text in the trigram table: every one or two characters of them begin a trigram.
CJK_END = "  "
_SQLITE_CJK_ROW = f"coalesce({{row}}.title, '') || '{CJK_END}' AS title, {{row}}.text || '{CJK_END}' AS text"

#: A day's facet tokens: ``d`` and each prefix of its digits (``d2``, ``d20`` … ``d20161101``), so
#: that any range of days is a few of them (``day_cover``). Only ISO 8601 days: ``published``
#: keeps the page's own string, and another form has no day to filter on.
DAY_PREFIXES = range(1, 9)
#: PostgreSQL's facets also name the blocks of ids an article is in (``i``, the block's bits, a
#: dot and its number: ``i8.3906``), so that a window of the newest ids is a few facet tokens
#: (``id_cover``) which the GIN index intersects with a query's words, instead of a range of the
#: primary key: for that range the planner walked the key and read the document of every article
#: in the window (34 ms for 14,000 ids at 1M articles, where the word's GIN list held 582 of them).
ID_BLOCK_BITS = (8, 12, 16, 20)
_SQLITE_DAY = "substr({published}, 1, 4) || substr({published}, 6, 2) || substr({published}, 9, 2)"
_SQLITE_FACETS = (
    "trim(coalesce('s' || {source}, '') || CASE WHEN {published} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' "
    "THEN ' ' || " + " || ' ' || ".join(f"'d' || substr({_SQLITE_DAY}, 1, {k})" for k in DAY_PREFIXES)
    + " ELSE '' END)"
)
_SQLITE_SOURCE = "(SELECT source_id FROM captures WHERE id = {capture})"
_SQLITE_INDEX = f"""
        INSERT INTO {PREFIX}_facets (article_id, facets) VALUES (new.id, {_SQLITE_FACETS.format(
            source=_SQLITE_SOURCE.format(capture="new.capture_id"), published="new.published")});
        INSERT INTO {PREFIX}(rowid, title, text, author, facets)
            SELECT new.id, new.title, new.text, new.author, facets FROM {PREFIX}_facets WHERE article_id = new.id;
        INSERT INTO {PREFIX}_cjk(rowid, title, text) SELECT new.id, {_SQLITE_CJK_ROW.format(row="new")}
            WHERE coalesce(new.title, '') || new.text {_SQLITE_HAS_CJK};"""
_SQLITE_UNINDEX = f"""
        INSERT INTO {PREFIX}({PREFIX}, rowid, title, text, author, facets)
            SELECT 'delete', old.id, old.title, old.text, old.author, facets FROM {PREFIX}_facets
            WHERE article_id = old.id;
        DELETE FROM {PREFIX}_facets WHERE article_id = old.id;
        INSERT INTO {PREFIX}_cjk({PREFIX}_cjk, rowid, title, text) SELECT 'delete', old.id, {_SQLITE_CJK_ROW.format(
            row="old")} WHERE coalesce(old.title, '') || old.text {_SQLITE_HAS_CJK};"""

_SQLITE = (
    # The facets an article was indexed with, kept: removing it from an external-content index
    # takes the very values it was indexed with, and its capture (the source) may already be gone.
    f"CREATE TABLE {PREFIX}_facets (article_id INTEGER PRIMARY KEY, facets TEXT NOT NULL)",
    f"""CREATE VIEW {PREFIX}_rows AS SELECT a.id, a.title, a.text, a.author, f.facets
        FROM articles AS a LEFT JOIN {PREFIX}_facets AS f ON f.article_id = a.id""",
    f"""CREATE VIRTUAL TABLE {PREFIX} USING fts5(
        title, text, author, facets, content='{PREFIX}_rows', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    # Ranking: a word in the title counts ten times one in the text (bm25's column weights); the
    # author and facets columns filter, they never rank.
    f"INSERT INTO {PREFIX}({PREFIX}, rank) VALUES ('rank', 'bm25(10.0, 1.0, 0.0, 0.0)')",
    f"CREATE VIEW {PREFIX}_cjk_rows AS SELECT id, {_SQLITE_CJK_ROW.format(row='articles')} FROM articles",
    f"""CREATE VIRTUAL TABLE {PREFIX}_cjk USING fts5(
        title, text, content='{PREFIX}_cjk_rows', content_rowid='id', tokenize='trigram')""",
    f"INSERT INTO {PREFIX}_cjk({PREFIX}_cjk, rank) VALUES ('rank', 'bm25(10.0, 1.0)')",
    f"CREATE VIRTUAL TABLE {PREFIX}_cjk_terms USING fts5vocab({PREFIX}_cjk, row)",
    f"CREATE TRIGGER {PREFIX}_insert AFTER INSERT ON articles BEGIN{_SQLITE_INDEX}\n    END",
    f"CREATE TRIGGER {PREFIX}_delete AFTER DELETE ON articles BEGIN{_SQLITE_UNINDEX}\n    END",
    f"""CREATE TRIGGER {PREFIX}_update AFTER UPDATE OF title, text, author, published, capture_id ON articles
        BEGIN{_SQLITE_UNINDEX}{_SQLITE_INDEX}\n    END""",
    # Articles stored before the index existed.
    f"""INSERT INTO {PREFIX}_facets (article_id, facets) SELECT a.id, {_SQLITE_FACETS.format(
        source="c.source_id", published="a.published")}
        FROM articles AS a LEFT JOIN captures AS c ON c.id = a.capture_id""",
    f"INSERT INTO {PREFIX}({PREFIX}) VALUES ('rebuild')",
    f"""INSERT INTO {PREFIX}_cjk(rowid, title, text) SELECT id, {_SQLITE_CJK_ROW.format(row='articles')}
        FROM articles WHERE coalesce(title, '') || text {_SQLITE_HAS_CJK}""",
)

#: The document of one article, as both the trigger and the query's snippet see it.
_PG_SPACED = f"regexp_replace({{}}, '([{CJK_CLASS}])', ' \\1 ', 'g')"
_PG_DAY = "substr(published, 1, 4) || substr(published, 6, 2) || substr(published, 9, 2)"
_PG = (
    f"""CREATE TABLE {PREFIX} (
        article_id BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        document TSVECTOR NOT NULL,
        pairs BIGINT[] NOT NULL,
        facets TEXT[] NOT NULL)""",
    f"""CREATE FUNCTION {PREFIX}_document(title TEXT, body TEXT) RETURNS TSVECTOR
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT setweight(to_tsvector('simple', {_PG_SPACED.format("coalesce(title, '')")}), 'A')
            || setweight(to_tsvector('simple', {_PG_SPACED.format("body")}), 'D') $$""",
    # Each word followed by the next position's word, hashed (no DISTINCT: GIN drops repeated keys).
    f"""CREATE FUNCTION {PREFIX}_pairs(document TSVECTOR) RETURNS BIGINT[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(array_agg(hashtextextended(word || ' ' || next, 0)) FILTER (WHERE next_at = at + 1), '{{}}')
        FROM (SELECT word, at, lead(word) OVER w AS next, lead(at) OVER w AS next_at
            FROM (SELECT lexeme AS word, unnest(positions) AS at FROM unnest(document)) AS words
            WINDOW w AS (ORDER BY at)) AS pairs $$""",
    # The source (``s`` and its id), the id's blocks, the day's prefixes (as on SQLite) and the
    # author's words (``a`` and each lexeme): no word of a text is looked for here, so none is
    # mistaken for them.
    f"""CREATE FUNCTION {PREFIX}_facets(article_id BIGINT, source_id BIGINT, author TEXT, published TEXT)
        RETURNS TEXT[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT array_remove(ARRAY['s' || source_id], NULL)
            || ARRAY[{", ".join(f"'i{bits}.' || (article_id >> {bits})" for bits in ID_BLOCK_BITS)}]
            || CASE WHEN published ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'
                THEN ARRAY[{", ".join(f"'d' || left({_PG_DAY}, {k})" for k in DAY_PREFIXES)}] ELSE '{{}}' END
            || ARRAY(SELECT 'a' || lexeme FROM unnest(to_tsvector('simple', coalesce(author, '')))) $$""",
    f"""CREATE FUNCTION {PREFIX}_index() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE document TSVECTOR := {PREFIX}_document(NEW.title, NEW.text);
    DECLARE facets TEXT[] := {PREFIX}_facets(
        NEW.id, (SELECT source_id FROM captures WHERE id = NEW.capture_id), NEW.author, NEW.published);
    BEGIN
        INSERT INTO {PREFIX} (article_id, document, pairs, facets)
            VALUES (NEW.id, document, {PREFIX}_pairs(document), facets)
            ON CONFLICT (article_id) DO UPDATE
            SET document = EXCLUDED.document, pairs = EXCLUDED.pairs, facets = EXCLUDED.facets;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER {PREFIX}_index AFTER INSERT OR UPDATE OF title, text, author, published, capture_id
        ON articles FOR EACH ROW EXECUTE FUNCTION {PREFIX}_index()""",
    # The trigger first: its lock on ``articles`` holds writers off until the index is filled with
    # every article already stored and committed. The GIN indexes last, built from the filled
    # table in one pass (inserting an archive's articles one by one into them is several times slower).
    f"""INSERT INTO {PREFIX} (article_id, document, pairs, facets)
        SELECT id, document, {PREFIX}_pairs(document), facets FROM (
            SELECT a.id, {PREFIX}_document(a.title, a.text) AS document,
                {PREFIX}_facets(a.id, c.source_id, a.author, a.published) AS facets
            FROM articles AS a LEFT JOIN captures AS c ON c.id = a.capture_id) AS made""",
    # One index over words, facets and pairs: GIN intersects a word's or a phrase's list with a
    # filter's or a window's inside one scan, skipping through the longer list, instead of two
    # bitmaps of every match to AND.
    f"CREATE INDEX ix_{PREFIX} ON {PREFIX} USING gin (document, facets, pairs)",
)

#: Every object either version of the index made (``IF EXISTS``: a migration drops an older one).
_DROP = {
    "sqlite": (
        f"DROP TRIGGER IF EXISTS {PREFIX}_update", f"DROP TRIGGER IF EXISTS {PREFIX}_delete",
        f"DROP TRIGGER IF EXISTS {PREFIX}_insert", f"DROP TABLE IF EXISTS {PREFIX}_cjk_terms",
        f"DROP TABLE IF EXISTS {PREFIX}_cjk", f"DROP VIEW IF EXISTS {PREFIX}_cjk_rows",
        f"DROP TABLE IF EXISTS {PREFIX}", f"DROP VIEW IF EXISTS {PREFIX}_rows", f"DROP TABLE IF EXISTS {PREFIX}_facets",
    ),
    "postgresql": (
        f"DROP TRIGGER IF EXISTS {PREFIX}_index ON articles", f"DROP FUNCTION IF EXISTS {PREFIX}_index()",
        f"DROP TABLE IF EXISTS {PREFIX}", f"DROP FUNCTION IF EXISTS {PREFIX}_document(TEXT, TEXT)",
        f"DROP FUNCTION IF EXISTS {PREFIX}_pairs(TSVECTOR)",
        f"DROP FUNCTION IF EXISTS {PREFIX}_facets(BIGINT, TEXT, TEXT)",
        f"DROP FUNCTION IF EXISTS {PREFIX}_facets(BIGINT, BIGINT, TEXT, TEXT)",
    ),
}


def is_index_table(name: str | None) -> bool:
    """Whether ``name`` is one of the index's tables (FTS5 makes shadow tables ``<name>_data`` etc.)."""
    return bool(name) and str(name).startswith(PREFIX)


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic's filter leaving the index's tables, which the models do not describe, out of autogenerate."""
    return not (type_ == "table" and is_index_table(name))


def create(conn: Connection) -> None:
    """Create the index on ``conn``'s backend and fill it from the articles already stored."""
    for statement in {"sqlite": _SQLITE, "postgresql": _PG}[conn.dialect.name]:
        conn.exec_driver_sql(statement)


def drop(conn: Connection) -> None:
    for statement in _DROP[conn.dialect.name]:
        conn.exec_driver_sql(statement)


def cjk_spaced(text: str) -> str:
    """``text`` with each Chinese or Japanese character a word of its own, as PostgreSQL's index has them."""
    return CJK.sub(r" \g<0> ", text)


def day_cover(since: date | None, until: date | None) -> list[str]:
    """The fewest day facet tokens whose days are exactly those from ``since`` to ``until`` (None: open).

    The days' digits (``20161101``) as a decimal tree: a prefix whose every day is in the range
    is one token, and only the two edges go deeper, so a range is at most 9 tokens a digit on
    each side (90 days: about 20).
    """
    low = since.isoformat().replace("-", "") if since else "0" * 8
    high = until.isoformat().replace("-", "") if until else "9" * 8
    tokens: list[str] = []

    def cover(prefix: str, low: str, high: str) -> None:
        if low.strip("0") == "" and high.strip("9") == "":
            tokens.append("d" + prefix)
        elif low[0] == high[0]:
            cover(prefix + low[0], low[1:], high[1:])
        else:
            cover(prefix + low[0], low[1:], "9" * (len(low) - 1))
            tokens.extend(f"d{prefix}{digit}" for digit in range(int(low[0]) + 1, int(high[0])))
            cover(prefix + high[0], "0" * (len(high) - 1), high[1:])

    if low <= high:
        cover("", low, high)
    return tokens


def id_cover(low: int, high: int) -> list[str]:
    """The fewest id block tokens (``ID_BLOCK_BITS``) whose blocks hold every id from ``low`` to
    ``high``: the finest blocks at the two edges whole, a larger block wherever all of it is in."""
    finest = ID_BLOCK_BITS[0]
    tokens: list[str] = []
    block, last = low >> finest, high >> finest
    while block <= last:
        bits = next(bits for bits in reversed(ID_BLOCK_BITS)
                    if block % (1 << (bits - finest)) == 0 and block + (1 << (bits - finest)) - 1 <= last)
        tokens.append(f"i{bits}.{block >> (bits - finest)}")
        block += 1 << (bits - finest)
    return tokens


def attach(metadata: MetaData) -> None:
    """Build the index whenever ``metadata``'s tables are created (a new archive's schema in one step)."""
    event.listen(metadata, "after_create", lambda _target, conn, **_kw: create(conn))
