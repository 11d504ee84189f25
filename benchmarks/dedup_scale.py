"""Near-duplicate index at scale: does finding syndicated copies stay fast and complete at 1M articles?

Builds one index and grows it through ``--sizes`` (default 10k, 100k, 1M synthetic articles) in a
SQLite file in a temporary directory (or ``--db-url``, e.g. a PostgreSQL schema). After each
size it reopens the database (a new ``Database``, as after a restart) and runs ``--queries``
queries, each a planted copy of an indexed article, printing one table row per size:

  sig ms     fingerprint cost per article from text: shingles (normalise, drop boilerplate lines,
             hash words and 5-shingles) + MinHash signature
  insert/s   articles indexed per second during this size's growth (signatures computed by
             ``--workers`` processes while this one writes the database)
  lookup     ``NearDupIndex.query(signature)``: index lookup only, p50 / p99 in ms
  text→cand  text in, candidates out: shingles + signature + query, p50 / p99 in ms
  recall     share of queries whose original is among the candidates (target >= 0.99)
  false/q    candidates per query other than the original, mean and p99
  RSS        peak resident memory of this process (the index user) and of the largest worker

Articles are 300-1,500 words drawn from a fixed vocabulary of 50,000 made-up words with
Zipf-like frequencies (seeded), in paragraphs of 40-120 words. Every article belongs to a site
of 500; a fifth of the sites append the same 40-80-word author bio to all their articles, the
boilerplate that makes same-site pages resemble each other. One article in 50 is planted: built
as real text and indexed through ``fingerprint.shingles(text)``. A query is a planted article
either copied (80%: a dateline and a byline on top, 10% of its words replaced, one paragraph
dropped) or excerpted (20%: its first half and a "Read more at" line). The other articles are
generated as word ids and shingled from the same word hashes (``fingerprint.word_hashes`` of the
vocabulary, then ``fingerprint.shingle_hashes``), which is what the text path computes for them,
without building 1M strings.

With ``--sqlite-cache-mib N`` each size's queries run a second time (row ``+N MiB``) with that
page cache on SQLite's connections instead of the default 2 MiB, which at 1M articles holds
only part of the key index's inner pages.

    .venv/bin/python benchmarks/dedup_scale.py [--sizes 10000,100000,1000000] [--db-url URL]
    .venv/bin/python benchmarks/dedup_scale.py --sqlite-cache-mib 64

``--cluster-sizes 1,20,200`` measures instead matching and placement per article as clusters
grow (``benchmarks/dedup_clusters.py``): CPU ms per article, p50 / p99, per cluster size.

    .venv/bin/python benchmarks/dedup_scale.py --cluster-sizes 1,20,200 [--cluster-articles 400]
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import multiprocessing.pool
import os
import resource
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from archive.db.engine import Database, sqlite_url  # noqa: E402
from archive.syndication import fingerprint as fp  # noqa: E402
from archive.syndication.neardup import NearDupIndex  # noqa: E402
from benchmarks import dedup_clusters  # noqa: E402

VOCABULARY = 50_000
DOCS_PER_SITE = 500
BIO_SITES_PERCENT = 20
PLANT_EVERY = 50
TASK_DOCS = 5_000
_ZIPF_TABLE_BITS = 22

# Filled in each worker (and the parent) by ``_setup``.
_SEED = 0
_WORDS: list[str] = []
_WORD_HASHES = np.empty(0, dtype=np.uint64)
_ZIPF = np.empty(0, dtype=np.int32)


def _setup(seed: int) -> None:
    """Build the vocabulary, its word hashes and a Zipf sampling table, the same in every process."""
    global _SEED, _WORDS, _WORD_HASHES, _ZIPF
    _SEED = seed
    rng = np.random.default_rng([seed, 0])
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    seen: dict[str, None] = {}
    while len(seen) < VOCABULARY:
        for length in rng.integers(2, 12, size=VOCABULARY):
            seen.setdefault(letters[rng.integers(0, 26, size=length)].tobytes().decode(), None)
    _WORDS = list(seen)[:VOCABULARY]
    _WORD_HASHES = fp.word_hashes(" ".join(_WORDS))
    assert len(_WORD_HASHES) == VOCABULARY
    weights = 1.0 / (np.arange(VOCABULARY) + 2.7) ** 1.05
    cdf = np.cumsum(weights / weights.sum())
    _ZIPF = np.searchsorted(cdf, (np.arange(1 << _ZIPF_TABLE_BITS) + 0.5) / (1 << _ZIPF_TABLE_BITS)).astype(
        np.int32
    )


def _zipf_words(rng: np.random.Generator, count: int) -> np.ndarray:
    return _ZIPF[rng.integers(0, len(_ZIPF), size=count)]


def _bio(doc_id: int) -> np.ndarray:
    """The author bio of the article's site, or nothing: one fifth of the sites have one."""
    return _site_bio(doc_id // DOCS_PER_SITE)


@functools.lru_cache(maxsize=4096)
def _site_bio(site: int) -> np.ndarray:
    rng = np.random.default_rng([_SEED, 2, site])
    if rng.integers(0, 100) >= BIO_SITES_PERCENT:
        return np.empty(0, dtype=np.int32)
    return _zipf_words(rng, int(rng.integers(40, 81)))


def planted_paragraphs(doc_id: int) -> list[np.ndarray]:
    """The paragraphs (word ids) of planted article ``doc_id``, bio last if its site has one."""
    rng = np.random.default_rng([_SEED, 1, doc_id])
    words = _zipf_words(rng, int(rng.integers(300, 1501)))
    cuts = np.cumsum(rng.integers(40, 121, size=len(words) // 40 + 1))
    paragraphs = [p for p in np.split(words, cuts[cuts < len(words)]) if len(p)]
    bio = _bio(doc_id)
    return paragraphs + [bio] if len(bio) else paragraphs


def _text(paragraphs: list[np.ndarray], header: Sequence[str] = (), footer: Sequence[str] = ()) -> str:
    lines = [*header, *(" ".join(_WORDS[w] for w in p) for p in paragraphs), *footer]
    return "\n".join(lines)


def planted_text(doc_id: int) -> str:
    return _text(planted_paragraphs(doc_id))


def query_text(doc_id: int, variant: int) -> tuple[str, str]:
    """A repost of planted article ``doc_id``: ``("copy" or "excerpt", text)``."""
    rng = np.random.default_rng([_SEED, 3, doc_id, variant])
    paragraphs = [p.copy() for p in planted_paragraphs(doc_id)]
    header = ["November 1, 2016 in News by Bench Staff", "by Stephen Example"]
    if rng.random() < 0.2:
        half = np.cumsum([len(p) for p in paragraphs]) <= sum(len(p) for p in paragraphs) / 2
        kept = paragraphs[: max(1, int(half.sum()))]
        return "excerpt", _text(kept, header, [f"Read more at https://origin.example/{doc_id}"])
    for p in paragraphs:
        changed = rng.random(len(p)) < 0.10
        p[changed] = _zipf_words(rng, int(changed.sum()))
    if len(paragraphs) > 1:
        del paragraphs[int(rng.integers(0, len(paragraphs)))]
    return "copy", _text(paragraphs, header)


def signature_batch(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """Worker task: ids and signatures of articles ``start`` to ``stop - 1``, and the worker's peak RSS in MiB."""
    start, stop = bounds
    rng = np.random.default_rng([_SEED, 4, start])
    ids = np.arange(start, stop)
    lengths = rng.integers(300, 1501, size=len(ids))
    words = np.split(_zipf_words(rng, int(lengths.sum())), np.cumsum(lengths)[:-1])
    shingle_sets = []
    for doc_id, doc_words in zip(ids.tolist(), words, strict=True):
        if doc_id % PLANT_EVERY == 0:
            shingle_sets.append(fp.shingles(planted_text(doc_id)))
        else:
            hashes = _WORD_HASHES[np.concatenate([doc_words, _bio(doc_id)])]
            shingle_sets.append(fp.shingle_hashes(hashes))
    return ids, fp.signatures(shingle_sets), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tasks(start: int, stop: int) -> Iterator[tuple[int, int]]:
    for low in range(start, stop, TASK_DOCS):
        yield low, min(low + TASK_DOCS, stop)


def _computed(
    pool: multiprocessing.pool.Pool, workers: int, start: int, stop: int, worker_rss: list[float]
) -> Iterator[tuple[int, np.ndarray, None]]:
    """Items for ``add_many`` from the workers, in id order; ``worker_rss[0]`` tracks their peak RSS.

    At most two tasks per worker wait to be consumed, so a slow database cannot make this
    process hold every signature (``imap`` would queue them all).
    """
    pending: deque[multiprocessing.pool.AsyncResult[tuple[np.ndarray, np.ndarray, float]]] = deque()
    tasks = _tasks(start, stop)
    while True:
        while len(pending) < 2 * workers and (task := next(tasks, None)) is not None:
            pending.append(pool.apply_async(signature_batch, (task,)))
        if not pending:
            return
        ids, sigs, rss = pending.popleft().get()
        worker_rss[0] = max(worker_rss[0], rss)
        yield from ((doc_id, sig, None) for doc_id, sig in zip(ids.tolist(), sigs, strict=True))


def _add_articles(database: Database, start: int, stop: int) -> None:
    """Create bare capture and article rows for ids ``start`` to ``stop - 1`` (fingerprints reference them)."""
    sqlite = database.engine.dialect.name == "sqlite"
    series = (
        "WITH RECURSIVE seq(i) AS (SELECT :start UNION ALL SELECT i + 1 FROM seq WHERE i < :last) "
        if sqlite
        else ""
    )
    source = "seq" if sqlite else "generate_series(CAST(:start AS BIGINT), CAST(:last AS BIGINT)) AS seq(i)"
    stamp = "'2016-11-01 00:00:00'" if sqlite else "TIMESTAMPTZ '2016-11-01 00:00:00+00'"
    params = {"start": start, "last": stop - 1}
    with database.session() as s, s.begin():
        s.execute(
            text(
                f"{series}INSERT INTO captures (id, url, url_key, timestamp, status, mime, warc_file, "
                "warc_offset, warc_length, record_id, payload_digest) "
                f"SELECT i, 'https://bench.example/' || i, 'https://bench.example/' || i, {stamp}, 200, "
                f"'text/html', 'bench.warc.gz', 0, 0, 'bench-' || i, 'sha1:BENCH' FROM {source}"
            ),
            params,
        )
        s.execute(
            text(
                f"{series}INSERT INTO articles (id, capture_id, url, text, status, extracted_at) "
                f"SELECT i, i, 'https://bench.example/' || i, '', 'ok', {stamp} FROM {source}"
            ),
            params,
        )


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def _measure(
    url: str, size: int, queries: int, rng: np.random.Generator, cache_mib: int | None = None
) -> dict[str, Any]:
    """Reopen the database and run planted-copy queries against the first ``size`` articles.

    ``cache_mib`` sets SQLite's page cache on this run's connections (the default is 2 MiB).
    """
    database = Database(url)
    if cache_mib:
        pragma = f"PRAGMA cache_size=-{cache_mib * 1024}"
        event.listen(database.engine, "connect", lambda connection, _record: connection.execute(pragma))
    try:
        index = NearDupIndex(database)
        planted = np.arange(PLANT_EVERY, size + 1, PLANT_EVERY)
        lookups, lookup_cpu, text_in, false, hits, similarities = [], [], [], [], 0, []
        index.query(fp.signature(fp.shingles(query_text(int(planted[0]), 0)[1])))  # connect, check
        for number in range(queries):
            doc_id = int(rng.choice(planted))
            _kind, body = query_text(doc_id, number)
            started = time.perf_counter()
            sig = fp.signature(fp.shingles(body))
            looked_up, cpu = time.perf_counter(), time.thread_time()
            candidates = index.query(sig)
            done = time.perf_counter()
            lookup_cpu.append((time.thread_time() - cpu) * 1e3)
            lookups.append((done - looked_up) * 1e3)
            text_in.append((done - started) * 1e3)
            hit = doc_id in candidates
            hits += hit
            false.append(len(candidates) - hit)
            if number < 300:
                similarities.append(fp.jaccard(fp.shingles(body), fp.shingles(planted_text(doc_id))))
    finally:
        database.dispose()
    return {
        "lookup": _percentiles(lookups),
        "lookup_cpu": _percentiles(lookup_cpu),
        "text_in": _percentiles(text_in),
        "recall": hits / queries,
        "false_mean": float(np.mean(false)),
        "false_p99": float(np.percentile(false, 99)),
        "jaccard_p1": float(np.percentile(similarities, 1)),
        "jaccard_p50": float(np.percentile(similarities, 50)),
    }


def _fingerprint_cost(count: int = 300) -> tuple[float, float]:
    """Mean ms per article of ``shingles(text)`` and of ``signature(shingles)`` on planted texts."""
    texts = [planted_text(i * PLANT_EVERY) for i in range(1, count + 1)]
    started = time.perf_counter()
    sets = [fp.shingles(t) for t in texts]
    shingled = time.perf_counter()
    for shingle_set in sets:
        fp.signature(shingle_set)
    done = time.perf_counter()
    return (shingled - started) / count * 1e3, (done - shingled) / count * 1e3


def _db_size(url: str) -> str:
    path = Path(url.removeprefix("sqlite:///"))
    if not url.startswith("sqlite:///"):
        return "n/a"
    total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return f"{total / 2**30:.2f} GiB"


_COLUMNS = (
    f"{'articles':>9} {'insert/s':>8} {'lookup ms':>11} {'lookup CPU':>11} {'text→cand':>11} "
    f"{'recall':>6} {'false/q':>11} {'J p1/p50':>9} {'RSS MiB':>11} {'db':>9}\n"
    f"{'':>9} {'':>8} {'p50/p99':>11} {'p50/p99':>11} {'p50/p99':>11} {'':>6} {'mean/p99':>11} "
    f"{'':>9} {'self/worker':>11}"
)


def _pair(values: tuple[float, float]) -> str:
    return f"{values[0]:>5.2f}/{values[1]:<5.2f}"


def _clusters(sizes: list[int], articles: int, seed: int) -> None:
    """Print matching + placement CPU ms per article, p50 / p99, for clusters of each size."""
    print(f"{'cluster size':>12} {'articles':>8} {'CPU ms p50':>10} {'p99':>7} {'max':>7}")
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="dedup-clusters-") as tmp:
            costs = dedup_clusters.run(
                Path(tmp), size, articles, lambda doc_id: _text(planted_paragraphs(doc_id)).splitlines(), _WORDS, seed
            )
        p50, p99 = _percentiles(costs)
        print(f"{size:>12} {len(costs):>8} {p50:>10.2f} {p99:>7.2f} {max(costs):>7.2f}  load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="index sizes to measure at (default: %(default)s)"
    )
    parser.add_argument("--db-url", help="database URL (default: a SQLite file in a temporary directory)")
    parser.add_argument("--queries", type=int, default=1000, help="queries per size (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="signature processes (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sqlite-cache-mib",
        type=int,
        help="also measure queries with this SQLite page cache per connection (default cache: 2 MiB)",
    )
    parser.add_argument("--cluster-sizes", help="measure matching + placement per article in clusters of these sizes")
    parser.add_argument("--cluster-articles", type=int, default=400, help="articles per cluster size (default: %(default)s)")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    _setup(args.seed)
    if args.cluster_sizes:
        _clusters([int(size) for size in args.cluster_sizes.split(",")], args.cluster_articles, args.seed)
        return
    shingle_ms, signature_ms = _fingerprint_cost()
    print(f"fingerprint per article: shingles {shingle_ms:.3f} ms + signature {signature_ms:.3f} ms")
    with tempfile.TemporaryDirectory(prefix="dedup-scale-") as tmp:
        url = args.db_url or sqlite_url(Path(tmp))
        database = Database(url)
        index = NearDupIndex(database)
        print(
            f"database {url.split('?')[0]}; {index.bands} bands of {index.rows} rows (threshold {index.threshold})"
        )
        print(_COLUMNS)
        indexed = 0
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.workers, initializer=_setup, initargs=(args.seed,)) as pool:
            for size in sizes:
                started = time.perf_counter()
                _add_articles(database, indexed + 1, size + 1)
                worker_rss = [0.0]
                index.add_many(_computed(pool, args.workers, indexed + 1, size + 1, worker_rss))
                rate = (size - indexed) / (time.perf_counter() - started)
                indexed = size
                database.dispose()
                runs = [(f"{size:,}", None)]
                if args.sqlite_cache_mib and url.startswith("sqlite"):
                    runs.append((f"+{args.sqlite_cache_mib}MiB", args.sqlite_cache_mib))
                for label, cache_mib in runs:
                    queries_rng = np.random.default_rng([args.seed, 5, size])  # the same queries for each run
                    m = _measure(url, size, args.queries, queries_rng, cache_mib)
                    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                    print(
                        f"{label:>9} {rate:>8,.0f} {_pair(m['lookup'])} {_pair(m['lookup_cpu'])} "
                        f"{_pair(m['text_in'])} {m['recall']:>6.3f} {m['false_mean']:>6.2f}/{m['false_p99']:<4.0f} "
                        f"{m['jaccard_p1']:.2f}/{m['jaccard_p50']:.2f} {self_rss:>6.0f}/{worker_rss[0]:<4.0f} "
                        f"{_db_size(url):>9}  load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        database.dispose()


if __name__ == "__main__":
    main()
