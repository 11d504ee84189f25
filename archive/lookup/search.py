"""Full-text search over the archive's articles: ranked pages with a snippet, their cluster and its origin.

The index is ``archive.db.fulltext``'s (kept current by triggers as articles are stored). A
query is words and "quoted phrases", all of which a page must contain; its terms are passed
to the database as quoted strings, never as query syntax, so no input is a syntax error of
FTS5 or of ``to_tsquery``. Each page is listed once, with its latest capture's article (the
same rule as ``export articles``).

Ranking: BM25 on SQLite (a title word weighs ten text words), ``ts_rank`` on PostgreSQL
(title weight A, text D). A query with Chinese or Japanese characters searches substrings:
on SQLite in the trigram table (a term of one or two such characters, too short for a
trigram, as any of the trigrams it begins, newest first when no term can be ranked), on
PostgreSQL as a phrase of single characters.

Ranked means: the best by that score among the newest matches (highest article id, the latest
stored), at most a pool of them, ``_ROUNDS``' first (for 20 results: 1,000 on SQLite, 200 on
PostgreSQL). On SQLite a query with a word in more than ``COMMON`` articles is not ranked by
BM25: FTS5's ``bm25`` counts, once a query, every article holding each term (its IDF), 50-240
ms at 1M articles for a common word or a phrase of common words whatever the pool; the pool's
pages that hold the query in their title come first, then the rest, newest first.

Ranking costs per match (BM25 1-2 µs on SQLite; ``ts_rank`` reads and decompresses each
match's ``tsvector``, ~45 µs on PostgreSQL): ranking every match of a word in 10% of 300,000
articles took 0.8 s and 1.4 s (p99). Taking the newest matches costs less: FTS5 walks its list
of matches in id order; PostgreSQL sorts the ids of the rows the GIN index finds, reading each
row but decompressing no document, in windows of the newest ids first (``_windows``). A term
in fewer articles than the pool is ranked among all of them; a common one lists the most
relevant of its recent pages. On PostgreSQL the pool is taken by every word of the query (a
phrase's words anywhere: the GIN index answers that without reading documents); the phrases
are checked in the pool.

The filters (source, author's words, day of publication) are facets in the index, matched with
the words: the pool is of the articles that pass them (at 1M articles, a filter one match in
50 passes took 225-411 ms p99 on SQLite when applied to the ranked pool's rows). The pages'
rows (stored as articles, one page once) are read for the best few times ``limit`` of the
ranked, then, when too few pass, for a larger pool, and finally for every match.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, Integer, exists, select, text

from archive.db.fulltext import CJK, PREFIX, cjk_spaced, day_cover, id_cover
from archive.db.models import Article, Capture, Source, Syndication
from archive.errors import NotFoundError, QueryError

if TYPE_CHECKING:
    from sqlalchemy import FromClause, TextClause
    from sqlalchemy.engine import Connection

#: Round after round, for each result wanted: how many of the newest matches are ranked (the
#: pool), and how many of the best ranked are read; ``None``: all of them (pages that are not
#: stored as articles, or older versions of a page, filling the first). PostgreSQL's ranking
#: costs ~30 times SQLite's a match: a smaller pool.
_ROUNDS = {
    "sqlite": ((50, 5), (500, 100), (None, None)),
    "postgresql": ((10, 5), (100, 100), (None, None)),
}
#: A term of one or two Chinese or Japanese characters is looked for as the trigrams it begins
#: (read from the trigram table's vocabulary: ~1 ms at 300,000 articles, where scanning the
#: articles holding such characters with ``LIKE`` took 20-60 ms); of more than this many, it is scanned.
BEGUN_MAX = 1000
#: On SQLite, a word in more articles than this is common: counting them (a walk of its list,
#: ~0.3-0.6 µs an article) is as long as BM25's, which then costs as much again.
COMMON = 10_000
_TERM = re.compile(r'"([^"]*)"|([^\s"]+)')
_WORD = re.compile(r"\w")
#: Marks around a match in a snippet (``**word**``, as in Markdown).
MARK = "**"
SNIPPET_CHARS = 240


@dataclass(frozen=True)
class Hit:
    """One page found: its latest article, where it was captured, and its place in a cluster of copies.

    ``relation``, ``cluster_id`` and ``origin_url`` are None for a page in no cluster.
    """

    url: str
    title: str | None
    source: str | None
    author: str | None
    published: str | None
    captured: str
    snippet: str
    cluster_id: int | None
    relation: str | None
    origin_url: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_query(query: str) -> list[str]:
    """Split ``query`` into its terms: words and "quoted phrases".

    One ``QueryError`` line for what cannot be searched: an unclosed quote, no term, a term
    with no letter or digit (the index holds words only). Written here rather than with
    ``shlex``, whose escapes and single quotes would make "don't" an unclosed quote.
    """
    query = query.replace("\x00", " ")  # FTS5 ends a string at NUL, psycopg refuses it: a space
    if query.count('"') % 2:
        raise QueryError(f"bad query {query!r}: a quote is not closed")
    terms = [" ".join((phrase or word).split()) for phrase, word in _TERM.findall(query)]
    terms = [term for term in terms if term]
    if not terms:
        raise QueryError(f"bad query {query!r}: give words or \"quoted phrases\" to search for")
    for term in terms:
        if not _WORD.search(term):
            raise QueryError(f"bad query {query!r}: {term!r} has no letter or digit to search for")
    return terms


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _best(candidates: str, pool: int | None, limit: int | None) -> str:
    """The ``limit`` best (lowest score) of the ``pool`` newest ``candidates`` (id, score) as
    (id, score, matched), ``matched`` the number of candidates ranked: when under the pool, every match."""
    newest = "" if pool is None else f" ORDER BY id DESC LIMIT {pool}"
    bounded = "" if limit is None else f" LIMIT {limit}"
    return (f"SELECT id, score, count(*) OVER () AS matched FROM ({candidates}{newest}) AS pool "
            f"ORDER BY score{bounded}")


@dataclass(frozen=True)
class _Filters:
    """A query's filters as the index's facets (``archive.db.fulltext``): a source's id, the
    author's words, the day tokens covering the dates; None: not filtered on it."""

    source_id: int | None = None
    author: tuple[str, ...] | None = None
    days: tuple[str, ...] | None = None

    def fts5(self) -> str:
        """The FTS5 query clauses (``AND`` each), "" for none."""
        clauses = []
        if self.author is not None:
            clauses.append("author : (" + " ".join(map(_quoted, self.author)) + ")")
        if self.source_id is not None:
            clauses.append(f'facets : "s{self.source_id}"')
        if self.days is not None:
            clauses.append("facets : (" + " OR ".join(map(_quoted, self.days)) + ")")
        return " AND ".join(clauses)

    def postgresql(self) -> tuple[list[str], dict[str, Any]]:
        """The conditions on ``facets`` and their parameters. An author of no word wants ``a``,
        which no article has (``'a' || lexeme`` is longer)."""
        held, params = [], {}
        if self.author is not None:
            held.append("facets @> (SELECT coalesce(array_agg('a' || lexeme), ARRAY['a']) "
                        "FROM unnest(to_tsvector('simple', :author)))")
            params["author"] = " ".join(self.author)
        if self.source_id is not None:
            held.append("facets @> CAST(:source AS TEXT[])")
            params["source"] = [f"s{self.source_id}"]
        if self.days is not None:
            held.append("facets && CAST(:days AS TEXT[])")
            params["days"] = list(self.days)
        return held, params


def _begun(conn: Connection, terms: list[str]) -> dict[str, list[str] | None]:
    """For each term of one or two Chinese or Japanese characters, the trigrams of SQLite's
    trigram table that begin with it (``archive.db.fulltext``: every occurrence begins one); None
    for more than ``BEGUN_MAX`` of them."""
    begun: dict[str, list[str] | None] = {}
    for term in terms:
        if len(term) < 3 and all(CJK.match(char) for char in term):
            trigrams = list(conn.execute(
                text(f"SELECT term FROM {PREFIX}_cjk_terms WHERE term >= :term AND term < :term || char(1114111) "
                     "LIMIT :most"), {"term": term, "most": BEGUN_MAX + 1}).scalars())
            begun[term] = trigrams if len(trigrams) <= BEGUN_MAX else None
    return begun


def _words(terms: list[str]) -> str:
    """The FTS5 query for ``terms`` in titles and texts: the author and facets columns are there
    to filter (checking each match's column costs 5-25 %: at 300,000 articles a common word's p50
    2.7 -> 3.4 ms)."""
    return "{title text} : (" + " ".join(map(_quoted, terms)) + ")"


def _common(conn: Connection, terms: list[str]) -> bool:
    """Whether a word of the terms is in more than ``COMMON`` articles (SQLite, no Chinese or
    Japanese term). Words, not phrases: FTS5 finds a phrase by walking its words' lists, so a
    rare phrase of common words ("die als") costs what they do, and counting it walked them all."""
    return not any(CJK.search(term) for term in terms) and any(
        conn.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {PREFIX} WHERE {PREFIX} MATCH :word LIMIT :most)"),
                     {"word": _words([word]), "most": COMMON + 1}).scalar() > COMMON
        for word in dict.fromkeys(word for term in terms for word in term.split())
    )


def _sqlite_matches(
    terms: list[str], filters: _Filters, pool: int | None, limit: int | None, begun: dict[str, list[str] | None],
    common: bool = False,
) -> TextClause:
    """The ``limit`` best of the ``pool`` newest matching articles, as ``_best`` gives them;
    ``begun``: what ``_begun`` found for the short terms; ``common``: what ``_common`` found."""
    facets = filters.fts5()
    if not any(CJK.search(term) for term in terms):
        match = f"{_words(terms)} AND {facets}" if facets else _words(terms)
        if not common:
            return text(
                _best(f"SELECT rowid AS id, rank AS score FROM {PREFIX} WHERE {PREFIX} MATCH :match", pool, limit)
            ).bindparams(match=match)
        # Titles holding the query first (looked for among the pool's ids only: FTS5 seeks to
        # the lowest), then newest first.
        newest = "" if pool is None else f" ORDER BY rowid DESC LIMIT {pool}"
        bounded = "" if limit is None else f" LIMIT {limit}"
        return text(
            f"WITH pool AS (SELECT rowid AS id FROM {PREFIX} WHERE {PREFIX} MATCH :match{newest}), "
            f"titled AS (SELECT rowid AS id FROM {PREFIX} WHERE {PREFIX} MATCH :titled "
            f"AND rowid >= (SELECT min(id) FROM pool)) "
            f"SELECT id, -id - CASE WHEN id IN titled THEN {1 << 62} ELSE 0 END AS score, count(*) OVER () AS matched "
            f"FROM pool ORDER BY score{bounded}"
        ).bindparams(match=match, titled="title : (" + " ".join(map(_quoted, terms)) + ")")
    table = f"{PREFIX}_cjk"
    ranked = [term for term in terms if len(term) >= 3]
    shorts = [term for term in terms if len(term) < 3 and not begun.get(term)]
    match = " AND ".join([
        *map(_quoted, ranked),
        *("(" + " OR ".join(map(_quoted, trigrams)) + ")" for term in terms if (trigrams := begun.get(term))),
    ])
    params = {f"like{n}": _like(term) for n, term in enumerate(shorts)}
    # The trigram table has no facets: the articles the main index's facets give, found once.
    filtered = ""
    if facets:
        filtered = f" AND +{{id}} IN (SELECT rowid FROM {PREFIX} WHERE {PREFIX} MATCH :facets)"
        params["facets"] = facets
    if not match:
        # Nothing for the trigram index: a scan, of the articles it holds only (its ``docsize``
        # shadow table lists them; a scan of the FTS5 table would read every article), newest first.
        # CROSS JOIN: SQLite's planner would otherwise scan the articles and probe the list.
        likes = " AND ".join(
            f"(coalesce(a.title, '') LIKE :like{n} ESCAPE '\\' OR a.text LIKE :like{n} ESCAPE '\\')"
            for n in range(len(shorts))
        )
        return text(_best(
            f"SELECT d.id AS id, -d.id AS score FROM {table}_docsize AS d "
            f"CROSS JOIN articles AS a ON a.id = d.id WHERE {likes}{filtered.format(id='d.id')}", pool, limit,
        )).bindparams(**params)
    likes = "".join(
        f" AND ({table}.title LIKE :like{n} ESCAPE '\\' OR {table}.text LIKE :like{n} ESCAPE '\\')"
        for n in range(len(shorts))
    )
    score = "rank" if ranked else f"-{table}.rowid"  # a short term's trigrams say nothing of relevance
    return text(_best(
        f"SELECT rowid AS id, {score} AS score FROM {table} WHERE {table} MATCH :match{likes}"
        f"{filtered.format(id=table + '.rowid')}", pool, limit,
    )).bindparams(match=match, **params)


def _postgresql_matches(
    terms: list[str], filters: _Filters, pool: int | None, limit: int | None, window: list[str] | None = None
) -> TextClause:
    """As ``_sqlite_matches``: each term a phrase (``phraseto_tsquery``), all of them required.

    The pool is the newest articles holding every one-word term (``plainto_tsquery``) and every
    pair of adjacent words of each phrase (``pairs``), with the filters' facets: the GIN indexes
    answer without reading a document (``article_id + 0``: sorted from the indexes' ids, not by
    walking the primary key backwards reading every document). The phrases are checked in it
    (each check reads a document; the pairs leave a phrase of two words hardly any article to
    drop). ``matched`` counts the pool. ``window``: only articles in these id blocks (``_windows``).

    ``search`` turns sequential scans off for these statements (for its transaction, then back):
    the planner costs a ``tsvector`` match as one operator, not as reading and decompressing a
    document, and for a word in 15% of 200,000 articles chose to read every document (1.7 s)
    over the GIN index.
    """
    held, params = _postgresql_held(terms, filters)
    if window is not None:
        held.append("facets && CAST(:window AS TEXT[])")
        params["window"] = window
    query = " && ".join(f"phraseto_tsquery('simple', :term{n})" for n in range(len(terms)))
    newest = "" if pool is None else f" ORDER BY article_id + 0 DESC LIMIT {pool}"
    checked = " WHERE document @@ query" if any(len(cjk_spaced(term).split()) > 1 for term in terms) else ""
    bounded = "" if limit is None else f" LIMIT {limit}"
    return text(
        f"WITH pool AS (SELECT article_id, document FROM {PREFIX} WHERE {' AND '.join(held)}{newest}) "
        f"SELECT article_id AS id, -ts_rank(document, query) AS score, (SELECT count(*) FROM pool) AS matched "
        f"FROM pool, (SELECT {query} AS query) AS q{checked} ORDER BY score{bounded}"
    ).bindparams(**params)


def _postgresql_held(terms: list[str], filters: _Filters) -> tuple[list[str], dict[str, Any]]:
    """The conditions the GIN indexes answer for ``terms`` and ``filters`` (``_postgresql_matches``),
    and their parameters (``term0``… each term, its Chinese or Japanese characters spaced)."""
    spaced = [cjk_spaced(term) for term in terms]
    phrases = [n for n, term in enumerate(spaced) if len(term.split()) > 1]
    words = [n for n in range(len(terms)) if n not in phrases]
    held, params = filters.postgresql()
    if words:
        held.append("document @@ (" + " && ".join(f"plainto_tsquery('simple', :term{n})" for n in words) + ")")
    if phrases:
        pairs = " || ".join(f"{PREFIX}_pairs(to_tsvector('simple', :term{n}))" for n in phrases)
        held.append(f"pairs @> ({pairs})")
    return held, {**{f"term{n}": term for n, term in enumerate(spaced)}, **params}


#: On PostgreSQL the pool is first looked for among the newest ids: the GIN index finds every
#: match of a word (650,000 of a word in 65% of 1M articles), and sorting them by id to keep the
#: newest reads each one's row (355 ms); in a window of the newest 10,000 ids, 6 ms (the window
#: is facet tokens of id blocks, ``fulltext.id_cover``, intersected with the words in the GIN
#: index before a row is read). The window is sized from the planner's estimate of the matches (its statistics of the commonest words
#: and facets) to hold ``WINDOW_MATCHES`` times the pool; one that holds fewer than the pool is
#: widened ``WIDER`` times, then to every id, so the pool is the same whatever the estimate. A
#: query estimated at no more than ``SPARSE`` times the pool reads every match (a fixed window
#: of 10,000 ids made a word in 1% of 1M articles, ~100 matches in it, read all 10,000: 80 ms).
WINDOW_MATCHES = 3
WIDER = 10
SPARSE = 10


def _estimated(conn: Connection, held: list[str], params: dict[str, Any]) -> float:
    """The planner's estimate of the articles matching ``held`` (planned, not run: ~1 ms)."""
    plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {PREFIX} WHERE {' AND '.join(held)}"), params).scalar()
    return float((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])


def _windows(conn: Connection, pool: int | None, terms: list[str], filters: _Filters) -> list[list[str] | None]:
    """The windows to look for ``pool`` matches in, newest first (their id blocks' tokens), then
    None (every id)."""
    if pool is None:
        return [None]
    estimated = _estimated(conn, *_postgresql_held(terms, filters))
    if estimated <= pool * SPARSE:
        return [None]
    top = conn.execute(text(f"SELECT max(article_id) FROM {PREFIX}")).scalar() or 0
    span = max(pool, int(top * pool * WINDOW_MATCHES / estimated))
    return [id_cover(top - width + 1, top) for width in (span, span * WIDER) if top - width > 0] + [None]


# Core tables and their aliases, made once: ORM ``aliased()`` per query cost 10 ms of Python.
_articles, _captures, _sources, _syndication = (model.__table__ for model in (Article, Capture, Source, Syndication))
_newer, _newer_capture, _origin = _articles.alias("newer"), _captures.alias("newer_capture"), _articles.alias("origin")
#: One page once: no later article of the same page (its captures share the URL key).
_LATEST = ~exists(
    select(1)
    .select_from(_newer_capture.join(_newer, _newer.c.capture_id == _newer_capture.c.id))
    .where(_newer_capture.c.url_key == _captures.c.url_key, _newer.c.id > _articles.c.id, _newer.c.status == "ok")
)


def _rows(conn: Connection, matches: FromClause, limit: int) -> list[Any]:
    """The pages' rows of the best ``limit`` ``matches``: articles stored as such, each page once."""
    a, c = _articles.c, _captures.c
    return conn.execute(
        select(
            a.url, a.title, a.author, a.published, a.text, c.timestamp, _sources.c.name.label("source"),
            _syndication.c.cluster_id, _syndication.c.relation, _origin.c.url.label("origin_url"), matches.c.matched,
        )
        .select_from(
            matches.join(_articles, a.id == matches.c.id)
            .join(_captures, c.id == a.capture_id)
            .outerjoin(_sources, _sources.c.id == c.source_id)
            .outerjoin(_syndication, _syndication.c.article_id == a.id)
            .outerjoin(_origin, _origin.c.id == _syndication.c.origin_id)
        )
        .where(a.status == "ok", _LATEST)
        .order_by(matches.c.score, a.id)
        .limit(limit)
    ).all()


def _filters(
    conn: Connection, source: str | None, author: str | None, since: date | None, until: date | None
) -> _Filters:
    source_id = None
    if source is not None:
        source_id = conn.execute(select(Source.id).where(Source.name == source)).scalar()
        if source_id is None:
            raise NotFoundError(f"no source named {source!r} in the archive")
    words = None
    if author is not None:
        words = tuple(word for word in author.split() if _WORD.search(word))
        if not words:
            raise QueryError(f"bad author {author!r}: give a word of the author's name")
    if since is not None and until is not None and since > until:
        raise QueryError(f"bad dates: from {since} is after to {until}")
    days = None if since is None and until is None else tuple(day_cover(since, until))
    return _Filters(source_id, words, days)


def search(
    conn: Connection,
    query: str,
    *,
    source: str | None = None,
    author: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 20,
) -> list[Hit]:
    """The ``limit`` best pages matching ``query`` (see ``parse_query``), best first.

    ``source``: pages of that source only; ``author``: whose author's name has each of its
    words (any case; ``lendman`` finds "Stephen Lendman", ``lend`` does not); ``since``/``until``:
    published on or after / on or before that day (an ISO 8601 ``published``: a page's other
    forms of date have no day to filter on).
    """
    terms = parse_query(query)
    if limit < 1:
        raise QueryError(f"bad limit {limit}: give 1 or more")
    filters = _filters(conn, source, author, since, until)
    postgresql = conn.dialect.name == "postgresql"
    begun = {} if postgresql else _begun(conn, terms)
    common = not postgresql and _common(conn, terms)
    if any(trigrams == [] for trigrams in begun.values()):
        return []  # a term that begins no trigram is in no article
    if postgresql:
        seqscan = conn.execute(text("SELECT current_setting('enable_seqscan')")).scalar()
        conn.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
    for pool_per_result, read_per_result in _ROUNDS[conn.dialect.name]:
        pool = None if pool_per_result is None else limit * pool_per_result
        wanted = None if read_per_result is None else limit * read_per_result
        for window in _windows(conn, pool, terms, filters) if postgresql else [None]:
            matches = (_postgresql_matches(terms, filters, pool, wanted, window) if postgresql
                       else _sqlite_matches(terms, filters, pool, wanted, begun, common))
            rows = _rows(conn, matches.columns(id=Integer(), score=Float(), matched=Integer()).subquery("matches"), limit)
            if window is None or (rows and rows[0].matched == pool):  # the window held the pool
                break
        # Enough pages, or every match read: the pool held them all and all were read (no row
        # passed: unknown, so the next round).
        if len(rows) == limit or pool is None or (
                rows and rows[0].matched < pool and (wanted is None or rows[0].matched <= wanted)):
            break
    if postgresql:
        conn.execute(text("SELECT set_config('enable_seqscan', :before, true)"), {"before": seqscan})
    placed = ("origin", "copy", "excerpt")
    return [
        Hit(
            url=row.url,
            title=row.title,
            source=row.source,
            author=row.author,
            published=row.published,
            captured=row.timestamp.isoformat(),
            snippet=snippet(row.text, terms),
            cluster_id=row.cluster_id if row.relation in placed else None,
            relation=row.relation if row.relation in placed else None,
            origin_url=row.origin_url if row.relation in placed else None,
        )
        for row in rows
    ]


@functools.cache
def _variants() -> dict[str, str]:
    """For each lowercase letter, a regex class of the letters folding to it (``e``: ``[eÉéÈè…]``),
    for the alphabets below U+3000: CJK has neither case nor diacritics."""
    groups: dict[str, list[str]] = {}
    for code in range(0x3000):
        base = unicodedata.normalize("NFD", chr(code))[0].lower()
        if len(base) == 1 and base != chr(code).lower():
            groups.setdefault(base, []).append(chr(code))
    return {base: "[" + re.escape(base) + "".join(map(re.escape, chars)) + "]" for base, chars in groups.items()}


def _fold(term: str) -> str:
    """``term`` lowercased without diacritics."""
    return "".join(unicodedata.normalize("NFD", char)[0] for char in term).lower()


@functools.lru_cache(maxsize=256)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """Where any term occurs, ignoring case and diacritics as the index does: a phrase's words with
    anything but letters between them. Matched in the text as it is (a regex of letter classes,
    not a folded copy of each text: 0.3 ms a page in Python)."""
    variants = _variants()
    alternatives = []
    for term in terms:
        words = ["".join(variants.get(char, re.escape(char)) for char in word) for word in re.findall(r"\w+", _fold(term))]
        phrase = r"\W+".join(words)
        # Chinese and Japanese have no word boundaries; a term is then a substring.
        alternatives.append(phrase if CJK.search(term) else rf"(?<!\w){phrase}(?!\w)")
    return re.compile("|".join(alternatives), re.IGNORECASE)


def _densest(found: list[re.Match[str]], chars: int) -> int:
    """Where the window of ``chars`` starting at a match holds the most different terms (the first such)."""
    best, start = 0, found[0].start()
    for n, match in enumerate(found[:100]):
        within = {m.group().lower() for m in found[n:] if m.end() <= match.start() + chars * 3 // 4}
        if len(within) > best:
            best, start = len(within), match.start()
    return start


def snippet(body: str, terms: list[str], chars: int = SNIPPET_CHARS) -> str:
    """About ``chars`` characters of ``body`` around its first match, each match between ``MARK``s.

    Found here rather than by FTS5's ``snippet()`` or PostgreSQL's ``ts_headline``: the
    first cannot mark a substring (``LIKE``) match and the second parses the whole text of
    each result again; one function marks pages alike on both back ends. Matching folds case
    and diacritics as the index does. A page matched by its title alone starts at its text's start.
    """
    flat = " ".join(body.split())
    found = list(_pattern(tuple(terms)).finditer(flat))
    start = max(0, _densest(found, chars) - chars // 4) if found else 0
    if start:
        start = flat.find(" ", start) + 1 or start
    end = min(len(flat), start + chars)
    if end < len(flat):
        end = flat.rfind(" ", start, end) if flat.rfind(" ", start, end) > start else end
    parts, position = [], start
    for match in found:
        if match.start() < start or match.end() > end:
            continue
        parts += [flat[position:match.start()], MARK, flat[match.start():match.end()], MARK]
        position = match.end()
    parts.append(flat[position:end])
    return ("… " if start else "") + "".join(parts) + (" …" if end < len(flat) else "")
