"""Two workers store copies of one article at the same moment, on one PostgreSQL: one cluster.

Each worker's crawl has an archive writer process of its own; when two sources syndicate the
same story, their writers may store and match the copies in the same instant. Here the first
writer holds its transaction open a while after matching, and the second matches meanwhile:
unguarded, neither saw the other's copy, and the story was two clusters of one copy each.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.db.engine import Database
from archive.db.models import Article, Syndication
from archive.ingest.extraction import extract_for_matching
from archive.ingest.messages import Fetched
from archive.ingest.store import CaptureStore, Extracted
from tests.test_archive_warc import exchange

pytestmark = pytest.mark.postgres

#: How long the first writer keeps its transaction open after matching; the second starts halfway.
HOLD = 1.0


#: One story: a site's next story re-matches its earlier ones (their common lines learned as the
#: site's boilerplate), which could mend a split after the fact and hide it.
STORY = (
    "<html><head><title>Ferry vote</title></head><body><article><p>"
    + " ".join(f"The council of harbour town {k} voted on the ferry timetable." for k in range(40))
    + "</p></article></body></html>"
).encode()


def _writer(db_url: str, warc_dir: str, source: str, first: bool, barrier: multiprocessing.synchronize.Barrier) -> None:
    """A source's archive writer: store the page, wait for the other writer, then store its article."""
    from archive.syndication import matching

    if first:
        match_many = matching.match_many

        def slow_match_many(*args: object, **kwargs: object) -> None:
            match_many(*args, **kwargs)  # type: ignore[arg-type]
            time.sleep(HOLD)

        matching.match_many = slow_match_many  # type: ignore[assignment]
    db = Database(db_url)
    store = CaptureStore(db, Path(warc_dir), source, "repost", max_size=10**9, software="test")
    assert store.index is not None  # opened before the race
    url = f"http://{source}.example/ferry"
    fetched = Fetched(exchange(url=url, body=STORY, response_headers=[("Content-Type", "text/html; charset=utf-8")]),
                      metadata={"source": source})
    [capture] = store.store_exchanges([fetched])
    extraction = extract_for_matching(STORY, url)
    barrier.wait(timeout=60)
    if not first:
        time.sleep(HOLD / 2)
    store.store_articles([Extracted(capture, extraction, None, {}, {})])
    store.finish("finished", {})
    db.dispose()


def test_copies_stored_at_once_by_two_writers_end_in_one_cluster(postgres_url: str, tmp_path: Path) -> None:
    Database(postgres_url).dispose()  # the schema made once, before the writers race
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [context.Process(target=_writer, args=(postgres_url, str(tmp_path / name), name, first, barrier))
               for name, first in (("gazette", True), ("courier", False))]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    db = Database(postgres_url)
    try:
        with db.session() as s:
            rows = s.execute(select(Article.url, Syndication.cluster_id).join(Syndication, Syndication.article_id == Article.id)).all()
    finally:
        db.dispose()
    assert len(rows) == 2
    assert len({cluster for _, cluster in rows}) == 1, rows
