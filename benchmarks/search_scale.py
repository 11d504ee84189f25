"""Full-text search at scale: does ``syndicrawl search`` answer within 50 ms (p99) at 1M articles?

Builds an archive of ``--articles`` articles (default 1,000,000) on SQLite (a file in a
temporary directory) and on PostgreSQL (a fresh schema on ``--pg-url``'s server, dropped
after), and runs a mix of queries through ``archive.lookup.search.search`` at two sizes: the
first ``--baseline`` articles (10,000), then all of them, printing p50 and p99 per kind of
query and the ratio of the two sizes' p99. The articles are written through the
``articles`` table's triggers, as a crawl writes them, so the load rate is the cost of
keeping the index current.

The archive is what syndication makes of the news: ``--bases`` (3,000) base texts, each of
5 real paragraphs from the shared corpus's pages (``../shared/corpus/pages``, as
``benchmarks/corpus_eval`` reads them; the benchmark stops with a message without it) and
from ``corpus_eval/texts.toml`` (Chinese, Japanese, Russian, Arabic), in one language. Every
base is published by one of 50 sources, then copied (its text with another site's line added),
excerpted (its first two paragraphs) and captured again (same page, same text), until each
base has about ``articles / bases`` pages: every query word matches hundreds of articles.

Queries (each kind 40 times, drawn from the base texts' words by how many bases hold them):
rare (the 100 words in fewest bases), medium (in ~1% of bases), common (in ~10%), two words, a
two-word phrase, Chinese (2 and 4 characters), and a medium word with ``--source``, with
``--author``, with ``--from/--to``.

    nice .venv/bin/python -m benchmarks.search_scale [--articles 1000000] [--backends sqlite,postgresql]
        [--bulk postgresql] [--keep SCHEMA]

``--keep SCHEMA``: PostgreSQL's archive is loaded into that schema and kept; a later run naming
it measures the archive already there, at its full size only (loading 1M articles and building
their index takes ~27 minutes).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, make_url, text

from archive.db import fulltext
from archive.db.engine import Database, sqlite_url
from archive.db.fulltext import CJK, CJK_CLASS
from archive.db.models import Article, Capture, Source, Syndication
from archive.db.urls import url_key
from archive.lookup.search import search
from benchmarks.corpus_eval import material

SOURCES = 50
AUTHORS = ("Anna Berger", "Tom Miller", "Marie Dupont", "Li Wei", "Sato Yuki", "Omar Haddad", None)
BATCH = 5_000
MAINTENANCE_MEMORY = "1GB"
T0 = datetime(2016, 1, 1, tzinfo=UTC)
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Base:
    number: int
    title: str
    paragraphs: tuple[str, ...]
    lang: str


@dataclass(frozen=True)
class Row:
    """One generated article and its page: what the archive stores and what a query should find."""

    id: int
    base: int
    url: str
    source: int
    title: str
    text: str
    author: str | None
    published: str
    relation: str
    origin_id: int


def bases(count: int, seed: int = 1) -> list[Base]:
    """``count`` base texts of 5 paragraphs each, in the corpus's languages and texts.toml's."""
    if not material.CORPUS.is_dir():
        raise SystemExit(material.CORPUS_MISSING.format(corpus=material.CORPUS).replace("evaluation", "benchmark"))
    pools: dict[str, list[str]] = defaultdict(list)
    for page in material.corpus():
        for chunk in material.chunks(page):
            pools[page.lang].extend(chunk.paragraphs)
    for lang, texts in material.written().articles.items():
        for written in texts:
            pools[lang].extend(written.paragraphs)
    languages = sorted(pools)
    weights = [len(pools[lang]) for lang in languages]
    rng = random.Random(seed)
    made = []
    for number in range(count):
        lang = rng.choices(languages, weights)[0]
        paragraphs = tuple(rng.sample(pools[lang], min(5, len(pools[lang]))))
        title = " ".join(paragraphs[0].split()[:8]) if not CJK.search(paragraphs[0]) else paragraphs[0][:24]
        made.append(Base(number, title, paragraphs, lang))
    return made


def articles(count: int, texts: list[Base], seed: int = 2) -> Iterator[Row]:
    """``count`` articles: each base's origin first, then copies, excerpts and recaptures, in storage order."""
    rng = random.Random(seed)
    origins: dict[int, Row] = {}
    pages: list[Row] = []
    for number in range(1, count + 1):
        base = texts[(number - 1) % len(texts)]
        origin = origins.get(base.number)
        day = T0 + timedelta(days=base.number % 1500)
        published = day.date().isoformat() if number % 2 else f"{day:%Y-%m-%d}T{number % 24:02d}:15:00+01:00"
        body = "\n".join(base.paragraphs)
        if origin is None:
            source, relation, title = base.number % SOURCES, "origin", base.title
        else:
            kind = rng.random()
            if kind < 0.05 and pages:  # the same page captured again, a later article
                again = rng.choice(pages[-1000:])
                yield Row(number, again.base, again.url, again.source, again.title, again.text, again.author,
                          again.published, again.relation, again.origin_id)
                continue
            source = rng.randrange(SOURCES)
            relation, title = ("excerpt", base.title) if kind < 0.2 else ("copy", base.title)
            body = "\n".join(base.paragraphs[:2]) if relation == "excerpt" else f"{body}\nFirst published by site {source}."
        row = Row(number, base.number, f"http://site{source}.example/{base.number}/{number}.html", source, title, body,
                  AUTHORS[base.number % len(AUTHORS)], published, relation, origin.id if origin else number)
        if origin is None:
            origins[base.number] = row
        pages.append(row)
        yield row


def _tables(rows: list[Row], captured: datetime) -> tuple[list[dict[str, Any]], ...]:
    captures, stored, placed = [], [], []
    for row in rows:
        captures.append({
            "id": row.id, "source_id": row.source + 1, "url": row.url, "url_key": url_key(row.url),
            "timestamp": captured + timedelta(seconds=row.id), "status": 200, "mime": "text/html",
            "warc_file": "bench.warc.gz", "warc_offset": row.id * 1000, "warc_length": 1000,
            "record_id": f"<urn:uuid:{uuid.UUID(int=row.id)}>", "payload_digest": f"sha1:{row.id}",
        })
        stored.append({
            "id": row.id, "capture_id": row.id, "url": row.url, "title": row.title, "author": row.author,
            "published": row.published, "text": row.text, "status": "ok", "extracted_at": captured,
        })
        placed.append({
            "article_id": row.id, "cluster_id": row.origin_id, "relation": row.relation, "origin_id": row.origin_id,
            "evidence": "[]", "updated_at": captured,
        })
    return captures, stored, placed


def fresh_statistics(database: Database) -> None:
    """After a bulk batch on PostgreSQL, ANALYZE: the triggers' plans are made again on the grown
    tables (cached on empty ones, the count triggers scanned captures for every row: 7 articles a
    second by the second batch). A crawl's writer, whose batches are small, has autovacuum's."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def vacuum(database: Database) -> None:
    """VACUUM ANALYZE, as autovacuum does after a table grew by a fifth (it is off on this machine's
    test server): without it the first reads of each row after the bulk load set its hint bits,
    writing the pages they read (the first runs' p99 10-30 ms longer)."""
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def load(database: Database, rows: Iterator[Row], count: int) -> float:
    """Write ``count`` rows of ``rows`` with Core bulk inserts (no ORM), through the index's triggers; seconds."""
    started = time.perf_counter()
    with database.engine.begin() as conn:
        if not conn.execute(text("SELECT count(*) FROM sources")).scalar():
            conn.execute(insert(Source), [{"id": n + 1, "name": f"site{n}", "kind": "unknown"} for n in range(SOURCES)])
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH or row.id == count:
            captures, stored, placed = _tables(batch, T0)
            with database.engine.begin() as conn:
                conn.execute(insert(Capture), captures)
                conn.execute(insert(Article), stored)
                conn.execute(insert(Syndication), placed)
            fresh_statistics(database)
            batch = []
            if row.id % 100_000 == 0:
                print(f"  {row.id:,} articles loaded, {time.perf_counter() - started:,.0f} s", file=sys.stderr)
        if row.id == count:
            break
    return time.perf_counter() - started


@dataclass(frozen=True)
class Query:
    kind: str
    query: str
    options: dict[str, Any]


def queries(texts: list[Base], per_kind: int = 40, seed: int = 3) -> list[Query]:
    """The query mix: words chosen by how many base texts hold them, phrases, Chinese, filtered."""
    rng = random.Random(seed)
    holding: Counter[str] = Counter()
    for base in texts:
        if not CJK.search(base.paragraphs[0]):
            holding.update({w.lower() for p in base.paragraphs for w in _WORDS.findall(p) if len(w) > 2})
    by_holding = sorted(holding, key=holding.__getitem__)

    def near(share: float) -> list[str]:
        """The 100 words whose share of bases holding them is nearest ``share``."""
        return sorted(by_holding, key=lambda w: abs(holding[w] / len(texts) - share))[:100]

    rare = by_holding[:100]  # a paragraph recurs in several bases: the rarest is in 4 of 3,000
    medium, common = near(0.01), near(0.1)
    words = [w for base in texts if not CJK.search(base.paragraphs[0]) for w in _WORDS.findall(base.paragraphs[1])]
    chinese = [p for base in texts if base.lang == "zh" for p in base.paragraphs]
    mix: list[Query] = []
    for _ in range(per_kind):
        mix.append(Query("rare word", rng.choice(rare), {}))
        mix.append(Query("medium word", rng.choice(medium), {}))
        mix.append(Query("common word", rng.choice(common), {}))
        mix.append(Query("two words", f"{rng.choice(medium)} {rng.choice(common)}", {}))
        start = rng.randrange(len(words) - 1)
        mix.append(Query("phrase", f'"{words[start]} {words[start + 1]}"', {}))
        if chinese:
            paragraph = rng.choice(chinese)
            runs = [run for run in re.findall(f"[{CJK_CLASS}]+", paragraph) if len(run) >= 4]
            at = rng.choice(runs)
            mix.append(Query("Chinese, 2 characters", at[:2], {}))
            mix.append(Query("Chinese, 4 characters", at[:4], {}))
        mix.append(Query("medium + --source", rng.choice(medium), {"source": f"site{rng.randrange(SOURCES)}"}))
        mix.append(Query("medium + --author", rng.choice(medium), {"author": rng.choice(AUTHORS[:-1]).split()[0]}))
        since = date(2016, 1, 1) + timedelta(days=rng.randrange(1400))
        mix.append(Query("medium + --from/--to", rng.choice(medium), {"since": since, "until": since + timedelta(days=90)}))
    return mix


def measure(database: Database, mix: list[Query]) -> dict[str, list[float]]:
    """Milliseconds per query, by kind, on one connection (as one CLI command or API request has)."""
    times: dict[str, list[float]] = defaultdict(list)
    with database.connect() as conn:
        for query in mix[: len(mix) // 10]:  # warm the connection and the caches a little
            search(conn, query.query, **query.options)
        for query in mix:
            started = time.perf_counter()
            search(conn, query.query, **query.options)
            times[query.kind].append((time.perf_counter() - started) * 1000)
    return times


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def report(backend: str, sizes: list[tuple[int, float, dict[str, list[float]]]], bulk: bool) -> None:
    """p50 and p99 per kind at each size measured (one, for a kept archive), and their ratio."""
    (small, first, before), (large, seconds, after) = sizes[0], sizes[-1]
    if len(sizes) == 1:
        print(f"\n{backend}: {large:,} articles kept from an earlier run")
    elif bulk:
        print(f"\n{backend}: {small:,} articles loaded at {small / first:,.0f}/s through the index's triggers, "
              f"then {large - small:,} more without the index, built after (load and build {seconds - first:,.0f} s)")
    else:
        print(f"\n{backend}: {large:,} articles loaded at {large / seconds:,.0f}/s through the index's triggers")
    columns = [(f"{size // 1000}k", times) for size, _, times in sizes]
    print(f"{'query':<24}" + "".join(f"{f'p50 {name}':>11}{f'p99 {name}':>11}" for name, _ in columns)
          + (f"{'p99 ratio':>11}" if len(sizes) > 1 else ""))
    for kind in [*after, "all"]:
        line = f"{kind:<24}"
        for _, times in columns:
            values = [t for every in times.values() for t in every] if kind == "all" else times[kind]
            line += f"{p(values, 50):>11.1f}{p(values, 99):>11.1f}"
        if len(sizes) > 1:
            pick = (lambda times: [t for every in times.values() for t in every]) if kind == "all" else (lambda times: times[kind])
            line += f"{p(pick(after), 99) / p(pick(before), 99):>11.1f}"
        print(line)


def run(backend: str, url: str, count: int, baseline: int, texts: list[Base], mix: list[Query], bulk: bool) -> None:
    """Load and measure the baseline, then the rest; with ``bulk``, the rest is loaded without the
    index, which is then built from every article at once (as migration 0020 builds it)."""
    sizes = []
    with Database(url) as database:
        with database.connect() as conn:  # the schema, at head
            kept = conn.execute(text("SELECT count(*) FROM articles")).scalar()
        if kept == count:
            report(backend, [(count, 0.0, measure(database, mix))], bulk)
            return
        if kept:
            raise SystemExit(f"{backend}: the kept archive holds {kept:,} articles, not {count:,}: drop its schema")
        rows = articles(count, texts)
        loaded = 0.0
        for size in (baseline, count):
            if bulk and size == count:
                with database.engine.begin() as conn:
                    fulltext.drop(conn)
            loaded += load(database, rows, size)
            if bulk and size == count:
                started = time.perf_counter()
                with database.engine.begin() as conn:
                    if database.engine.dialect.name == "postgresql":  # GIN builds in memory, then merges
                        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_MEMORY}'")
                    fulltext.create(conn)
                built = time.perf_counter() - started
                loaded += built
                print(f"{backend}: the index built from {count:,} articles in {built:,.0f} s", file=sys.stderr)
            if database.engine.dialect.name == "postgresql":
                vacuum(database)
            sizes.append((size, loaded, measure(database, mix)))
            print(f"{backend}: {size:,} articles measured", file=sys.stderr)
    report(backend, sizes, bulk)


def postgres_schema(server: str, kept: str | None = None) -> tuple[str, Callable[[], None]]:
    """A schema on ``server`` and the function ending its use: ``kept``, made if missing and left
    there, else a new one, dropped."""
    import psycopg

    name = kept or f"search_scale_{uuid.uuid4().hex[:12]}"
    parsed = make_url(server)
    admin = psycopg.connect(
        host=parsed.host, port=parsed.port, dbname=parsed.database, user=parsed.username, password=parsed.password,
        autocommit=True,
    )
    admin.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")

    def drop() -> None:
        if not kept:
            admin.execute(f"DROP SCHEMA {name} CASCADE")
        admin.close()

    return parsed.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000)
    parser.add_argument("--bases", type=int, default=3_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--bulk", default="", metavar="BACKENDS",
                        help="backends whose articles past the baseline are loaded first and indexed after "
                        "(PostgreSQL's triggers index ~150 articles/s: 1M would take hours)")
    parser.add_argument("--keep", metavar="SCHEMA", help="PostgreSQL's archive in this schema, kept after the run "
                        "and measured again, not loaded, by a run that finds it holding --articles articles")
    args = parser.parse_args()
    bulk = set(filter(None, args.bulk.split(",")))
    texts = bases(args.bases)
    mix = queries(texts)
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="search-scale-") as directory:
                run(backend, sqlite_url(Path(directory)), args.articles, args.baseline, texts, mix, backend in bulk)
        else:
            url, drop = postgres_schema(args.pg_url, args.keep)
            try:
                run(backend, url, args.articles, args.baseline, texts, mix, backend in bulk)
            finally:
                drop()


if __name__ == "__main__":
    main()
