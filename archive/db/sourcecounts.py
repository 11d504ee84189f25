"""Per source, its captures, bytes, articles, failed extractions and pages, kept by the database itself.

The home page and ``syndicrawl sources`` show them for every source; counted at each request
they read every capture and every article with its capture (1.9 s at 500,000 pages). Triggers
on ``captures`` and ``articles`` keep ``source_counts`` current instead, as the full-text
index's do (``archive.db.fulltext``), so every writer (the crawl's batches, the importer,
``doctor`` removing the rows of a lost WARC file) keeps them without knowing they exist.

``pages``: the distinct URLs among a source's successful extractions. A capture removed takes its
article's counts with it (a BEFORE trigger) before the cascade removes the article, whose own
trigger then finds no capture and counts nothing; PostgreSQL runs the cascade after the
statement, SQLite during it, and both count alike. ``COUNTED`` is the same
count from scratch: the migration fills the table with it, and a test compares the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, and_, cast, distinct, func, select

from archive.db.models import Article, Capture, SourceCount

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.engine import Connection

def _article(sign: str, status: str, article_id: str, capture_id: str, source_id: str) -> str:
    """The counts of one article (``status``, ``article_id``, of capture ``capture_id`` of source
    ``source_id``: SQL expressions) added (``sign`` +) or taken (-): ``pages`` moves when no other
    successful article of the source has its URL. The captures of the URL are found by its key:
    ``+`` keeps the planner from taking the source's index instead, which reads every capture of
    the source for each article stored (SQLite, without statistics: 274 articles a second at
    20,000, 81 at 100,000; PostgreSQL's cached plan in the trigger function: 956M index rows read
    to store 640,000 articles, 200 a second)."""
    other = f"""EXISTS (SELECT 1 FROM captures mine JOIN captures c ON c.url_key = mine.url_key AND c.url = mine.url
        AND +c.source_id = mine.source_id JOIN articles a ON a.capture_id = c.id
        WHERE mine.id = {capture_id} AND a.status = 'ok' AND a.id <> {article_id})"""
    return f"""UPDATE source_counts SET articles = articles {sign} CASE WHEN {status} = 'ok' THEN 1 ELSE 0 END,
        failed = failed {sign} CASE WHEN {status} = 'failed' THEN 1 ELSE 0 END,
        pages = pages {sign} CASE WHEN {status} = 'ok' AND NOT {other} THEN 1 ELSE 0 END
        WHERE source_id = {source_id}"""


_OF_CAPTURE = "(SELECT source_id FROM captures WHERE id = {}.capture_id)"
_ARTICLE_IN = _article("+", "NEW.status", "NEW.id", "NEW.capture_id", _OF_CAPTURE.format("NEW"))
#: An article removed on its own; removed by its capture's cascade, its capture is gone: nothing.
_ARTICLE_OUT = _article("-", "OLD.status", "OLD.id", "OLD.capture_id", _OF_CAPTURE.format("OLD"))
#: A capture removed takes its article's counts, while both are there.
_CAPTURE_ARTICLE_OUT = _article("-", "(SELECT status FROM articles WHERE capture_id = OLD.id)",
                                "(SELECT id FROM articles WHERE capture_id = OLD.id)", "OLD.id", "OLD.source_id")
_CAPTURE_IN = """INSERT INTO source_counts (source_id, captures, bytes, articles, failed, pages)
    VALUES (NEW.source_id, 1, NEW.warc_length, 0, 0, 0)
    ON CONFLICT (source_id) DO UPDATE SET captures = source_counts.captures + 1,
        bytes = source_counts.bytes + excluded.bytes"""
_CAPTURE_OUT = """UPDATE source_counts SET captures = captures - 1, bytes = bytes - OLD.warc_length
    WHERE source_id = OLD.source_id"""

_SQLITE = (
    f"""CREATE TRIGGER source_counts_capture_insert AFTER INSERT ON captures WHEN NEW.source_id IS NOT NULL BEGIN
        {_CAPTURE_IN};
    END""",
    f"""CREATE TRIGGER source_counts_capture_delete BEFORE DELETE ON captures WHEN OLD.source_id IS NOT NULL BEGIN
        {_CAPTURE_OUT};
        {_CAPTURE_ARTICLE_OUT};
    END""",
    f"""CREATE TRIGGER source_counts_article_insert AFTER INSERT ON articles BEGIN
        {_ARTICLE_IN};
    END""",
    f"""CREATE TRIGGER source_counts_article_delete AFTER DELETE ON articles BEGIN
        {_ARTICLE_OUT};
    END""",
)

_PG = (
    f"""CREATE FUNCTION source_counts_capture() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.source_id IS NOT NULL THEN {_CAPTURE_IN}; END IF;
            RETURN NULL;
        END IF;
        IF OLD.source_id IS NOT NULL THEN
            {_CAPTURE_OUT};
            {_CAPTURE_ARTICLE_OUT};
        END IF;
        RETURN OLD;
    END $$""",
    f"""CREATE FUNCTION source_counts_article() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF TG_OP = 'INSERT' THEN {_ARTICLE_IN};
        ELSE {_ARTICLE_OUT};
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER source_counts_capture_insert AFTER INSERT ON captures
        FOR EACH ROW EXECUTE FUNCTION source_counts_capture()""",
    """CREATE TRIGGER source_counts_capture_delete BEFORE DELETE ON captures
        FOR EACH ROW EXECUTE FUNCTION source_counts_capture()""",
    """CREATE TRIGGER source_counts_article AFTER INSERT OR DELETE ON articles
        FOR EACH ROW EXECUTE FUNCTION source_counts_article()""",
)

_DROP = {
    "sqlite": tuple(f"DROP TRIGGER source_counts_{name}" for name in
                    ("capture_insert", "capture_delete", "article_insert", "article_delete")),
    "postgresql": (
        "DROP TRIGGER source_counts_capture_insert ON captures", "DROP TRIGGER source_counts_capture_delete ON captures",
        "DROP TRIGGER source_counts_article ON articles", "DROP FUNCTION source_counts_capture()",
        "DROP FUNCTION source_counts_article()",
    ),
}


def counted() -> Select[tuple[int, int, int, int, int, int]]:
    """Every source's counts from scratch: (source_id, captures, bytes, articles, failed, pages)."""
    captures = (
        select(Capture.source_id, func.count().label("n"),
               cast(func.coalesce(func.sum(Capture.warc_length), 0), BigInteger).label("bytes"))  # numeric on PostgreSQL
        .where(Capture.source_id.is_not(None)).group_by(Capture.source_id).subquery()
    )
    articles = (
        select(
            Capture.source_id,
            func.count().filter(Article.status == "ok").label("ok"),
            func.count(distinct(Capture.url)).filter(Article.status == "ok").label("pages"),
            func.count().filter(Article.status == "failed").label("failed"),
        )
        .select_from(Article).join(Capture, Capture.id == Article.capture_id).group_by(Capture.source_id).subquery()
    )
    return (
        select(captures.c.source_id, captures.c.n, captures.c.bytes, func.coalesce(articles.c.ok, 0),
               func.coalesce(articles.c.failed, 0), func.coalesce(articles.c.pages, 0))
        .outerjoin(articles, and_(articles.c.source_id == captures.c.source_id))
    )


def create(conn: Connection) -> None:
    """Create the triggers on ``conn``'s backend and count what is stored already."""
    triggers(conn)
    fill(conn)


def triggers(conn: Connection) -> None:
    for statement in {"sqlite": _SQLITE, "postgresql": _PG}[conn.dialect.name]:
        conn.exec_driver_sql(statement)


def fill(conn: Connection) -> None:
    conn.execute(SourceCount.__table__.delete())
    conn.execute(SourceCount.__table__.insert().from_select(
        ["source_id", "captures", "bytes", "articles", "failed", "pages"], counted()))


def drop(conn: Connection) -> None:
    for statement in _DROP[conn.dialect.name]:
        conn.exec_driver_sql(statement)
