"""A synthetic syndication archive for ``benchmarks/view_pages.py``: the view's server time at scale.

Writes ``--articles`` articles into a new archive at ``--data-dir`` (SQLite) or ``--db-url``
(PostgreSQL, an empty schema), with Core bulk inserts through the full-text index's and the
source counts' triggers, as ``benchmarks/search_scale.py`` does, then the analytics' tallies counted
as ``dedup rebuild`` counts them: 50 sources (10 origin sites, 40 repost sites), stories of
about ten pages each (an origin, copies each taken from the origin or an earlier copy, an excerpt,
and 5% of pages captured a second time), each copy with its edit summary and one in four citing
its source, published over four years. Texts are a few sentences: the view's pages read rows and
aggregates, not texts (search over real texts at 1M is ``search_scale``'s).

    .venv/bin/python -m benchmarks.view_archive --articles 200000 --data-dir /tmp/view-200k
    .venv/bin/python benchmarks/view_pages.py --data-dir /tmp/view-200k --repeat 5
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from archive.db.engine import Database, sqlite_url
from archive.db.models import Article, ArticleCitation, Capture, EditSummary, Source, Syndication
from archive.db.urls import url_key
from archive.syndication import tallies
from benchmarks.search_scale import fresh_statistics

SOURCES, ORIGINS = 50, 10
AUTHORS = ("Anna Berger", "Tom Miller", "Marie Dupont", "Li Wei", "Omar Haddad", None)
WORDS = "aleppo siege ministry strike market election ceasefire convoy pipeline sanctions summit refugees".split()
BATCH = 5_000
T0 = datetime(2022, 1, 1, tzinfo=UTC)


def rows(count: int, seed: int = 1) -> Any:
    """(capture, article, syndication, edit summary or None, cites) per article, in storage order."""
    rng = random.Random(seed)
    story: list[dict[str, Any]] = []  # the current story's pages: origin first
    for n in range(1, count + 1):
        if not story or len(story) >= rng.randint(6, 14):
            story = []
        base = n if not story else story[0]["id"]
        day = T0 + timedelta(days=base % 1460, hours=len(story))
        if story and rng.random() < 0.05:  # the same page captured again, a later article
            page = rng.choice(story)
            source, url, relation, parent = page["source"], page["url"], page["relation"], page["parent"]
        else:
            source = base % ORIGINS if not story else rng.randrange(ORIGINS, SOURCES)
            url = f"http://site{source}.example/{base}/{n}.html"
            relation = "origin" if not story else "excerpt" if rng.random() < 0.1 else "copy"
            parent = None if not story else rng.choice(story)["id"]
        words = " ".join(rng.choice(WORDS) for _ in range(12))
        captured = day + timedelta(minutes=n % 600)
        capture = {"id": n, "source_id": source + 1, "url": url, "url_key": url_key(url), "timestamp": captured,
                   "status": 200, "mime": "text/html", "warc_file": "bench.warc.gz", "warc_offset": n * 1000,
                   "warc_length": 1000 + n % 5000, "record_id": f"<urn:uuid:{uuid.UUID(int=n)}>",
                   "payload_digest": f"sha1:{n}"}
        article = {"id": n, "capture_id": n, "url": url, "title": f"Story {base}: {words[:40]}",
                   "author": AUTHORS[base % len(AUTHORS)], "published": f"{day:%Y-%m-%dT%H:%M:%S}+00:00",
                   "text": f"Story {base}. {words}.\nIt was reported on {day:%B %d}.", "status": "ok",
                   "extracted_at": captured}
        origin = story[0]["id"] if story else n
        placed = {"article_id": n, "cluster_id": n if relation == "excerpt" else origin, "relation": relation,
                  "origin_id": None if relation == "excerpt" else origin, "parent_id": parent, "evidence": "[]",
                  "similarity": None if relation == "origin" else 0.3 if relation == "excerpt" else 0.9,
                  "updated_at": captured}
        summary = ({"article_id": n, "against_id": parent, "kept": 0.8 + (n % 20) / 100,
                    "counts": json.dumps({"header": 1, "links_removed": n % 3})} if relation == "copy" else None)
        story.append({"id": n, "source": source, "url": url, "relation": relation, "parent": parent})
        yield capture, article, placed, summary, relation != "origin" and n % 4 == 0


def load(database: Database, count: int) -> float:
    """Write the archive in batches of ``BATCH``; seconds."""
    database.session().close()  # the schema, brought to head
    started = time.perf_counter()
    with database.engine.begin() as conn:
        conn.execute(insert(Source), [{"id": n + 1, "name": f"site{n}", "kind": "origin" if n < ORIGINS else "repost"}
                                      for n in range(SOURCES)])
    batch: list[tuple[Any, ...]] = []
    for row in rows(count):
        batch.append(row)
        if len(batch) == BATCH or row[0]["id"] == count:
            with database.engine.begin() as conn:
                conn.execute(insert(Capture), [r[0] for r in batch])
                conn.execute(insert(Article), [r[1] for r in batch])
                conn.execute(insert(Syndication), [r[2] for r in batch])
                conn.execute(insert(EditSummary), [r[3] for r in batch if r[3]])
                conn.execute(insert(ArticleCitation), [{"url_key": r[0]["url_key"], "article_id": r[0]["id"]}
                                                       for r in batch if r[4]])
            fresh_statistics(database)
            batch = []
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, required=True, help="A new data directory (its SQLite file).")
    parser.add_argument("--db-url", help="A PostgreSQL database (an empty schema) instead of the SQLite file.")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=False)
    database = Database(args.db_url or sqlite_url(args.data_dir))
    seconds = load(database, args.articles)
    print(f"{args.articles:,} articles in {seconds:.0f} s ({args.articles / seconds:,.0f}/s)")
    started = time.perf_counter()
    with database.session() as s, s.begin():  # what the writer keeps as it places pages (dedup rebuild's way)
        pages = tallies.rebuild(s)
    database.dispose()
    print(f"analytics tallies of {pages:,} pages in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
