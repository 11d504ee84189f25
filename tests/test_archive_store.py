"""The capture store: batches of exchanges become WARC records, rows and (per finished file) a CDXJ index."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from archive.db.engine import Database
from archive.ingest.messages import Fetched
from archive.ingest.store import CaptureStore
from archive.warc import cdxj
from tests.test_archive_warc import exchange


def test_each_finished_file_is_indexed_from_its_rows_as_cdxj_indexer_would(database: Database, tmp_path: Path) -> None:
    """Files close mid-batch (rotation) and at the end; each gets its index once its rows are in
    the database, line for line what cdxj-indexer reads out of the file."""
    store = CaptureStore(
        database, tmp_path / "warcs", "gazette", "repost", max_size=2_000, software="test", index_dir=tmp_path / "indexes"
    )
    first = exchange(response_headers=[("Content-Type", "text/html; charset=utf-8")])

    def story(n: int, later: timedelta = timedelta(0)) -> Fetched:
        body = f"<html><body><p>Story {n}: {'harbour news ' * 40}</p></body></html>".encode()
        fetched_at = first.fetched_at + timedelta(seconds=n) + later
        return Fetched(replace(first, url=f"http://news.example/story?id={n}", body=body, fetched_at=fetched_at),
                       metadata={"source": "gazette"})

    batch = [story(n) for n in range(6)] + [story(2, later=timedelta(days=1))]  # the same payload again: a revisit
    stored = store.store_exchanges(batch[:4]) + store.store_exchanges(batch[4:])
    assert [capture.revisit for capture in stored] == [False] * 6 + [True]
    warcs = store.finish("finished", {})
    assert len(warcs) > 2  # rotated
    for warc in warcs:
        ours = (tmp_path / "indexes" / cdxj.index_name(warc.name)).read_text()
        theirs = cdxj.index_closed_warc(warc, tmp_path / "reference").read_text()
        assert ours == theirs and ours.count("\n") >= 1
