"""The archive writer process (archive/ingest/service.py) on its own, through its pipes."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archive.db.embedded import DB_FILENAME, sqlite_url
from archive.ingest import service as service_module
from archive.ingest.messages import ArchiveConfig, Fetched, dump
from archive.ingest.service import ArchiveService
from archive.warc.exchange import HttpExchange


def test_a_writer_whose_crawl_is_gone_records_the_crawl_and_exits_quietly(tmp_path: Path) -> None:
    """Ctrl-C as a crawl starts ends the crawl process before its writer reports anything:
    the writer must not die of the closed reply pipe (it printed two tracebacks)."""
    config = ArchiveConfig(
        db_url=sqlite_url(tmp_path), warc_dir=tmp_path / "warcs", warc_max_size=10**9, software="test",
        index_dir=tmp_path / "indexes", sources=(("blog", "origin"),),
    )  # fmt: skip
    messages, to_writer = os.pipe()
    from_writer, replies = os.pipe()
    for data in dump(config):
        os.write(to_writer, data)
    os.close(to_writer)  # the crawl sent its configuration and ended
    os.close(from_writer)  # ... and nobody reads the writer's replies

    result = subprocess.run(
        [sys.executable, "-c", f"from archive.ingest.service import main; main({messages}, {replies})"],
        pass_fds=(messages, replies), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        assert db.execute("SELECT status FROM crawls").fetchall() == [("interrupted",)]


def test_pages_go_to_the_extractor_as_they_arrive_and_the_writer_ends_when_the_last_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes wait up to LINGER for more pages to share a transaction; extraction must not wait
    with them (the workers would idle that long at the start of a crawl), nor may the writer
    wait it out once the crawl has ended and every extraction is in."""
    config = ArchiveConfig(
        db_url=sqlite_url(tmp_path), warc_dir=tmp_path / "warcs", warc_max_size=10**9, software="test",
        index_dir=tmp_path / "indexes", sources=(("blog", "origin"),), extract_workers=1,
    )  # fmt: skip
    service = ArchiveService(config, report=lambda reply: None)
    extractor = service._extractor
    assert extractor is not None
    sent: list[float] = []
    extracted: list[float] = []
    submit_many = extractor.submit_many

    def recorded(pages: list[tuple[object, str]]) -> list[Future[object]]:
        sent.append(time.monotonic())
        futures = submit_many(pages)
        for future in futures:
            future.add_done_callback(lambda _: extracted.append(time.monotonic()))
        return futures

    monkeypatch.setattr(extractor, "submit_many", recorded)
    # A window far longer than a loaded machine's storing time, so that waiting it out is not
    # mistaken for slowness (at 1 s a busy CI took 0.94 s to store one page).
    linger = 20.0
    monkeypatch.setattr(service_module, "LINGER", linger)
    stream = _Pipe()
    returned: list[float] = []
    threading.Thread(target=service.read, args=(stream,), daemon=True).start()
    runner = threading.Thread(target=lambda: (service.run(), returned.append(time.monotonic())), daemon=True)
    runner.start()
    written = time.monotonic()
    page = HttpExchange(
        url="http://blog.example/2016/11/aleppo/", method="GET", request_headers=[("Host", "blog.example")],
        request_body=b"", status=200, reason="OK", protocol="HTTP/1.1",
        response_headers=[("Content-Type", "text/html; charset=utf-8")], body=_article_html(),
        fetched_at=datetime(2016, 11, 1, tzinfo=timezone.utc), ip_address="127.0.0.1",
    )  # fmt: skip
    for data in dump(("capture", "blog", 1, Fetched(page, metadata={"source": "blog"}, extract=True))):
        stream.write(data)
    _wait_for(lambda: sent, "the page to be sent to the extractor")
    assert sent[0] - written < linger / 2  # not after the window's wait
    _wait_for(lambda: extracted, "the page's extraction")
    stream.close()  # the crawl ends
    runner.join(timeout=30)
    assert returned, "the writer did not finish"
    assert returned[0] - extracted[0] < linger / 2
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        assert db.execute("SELECT url, status FROM articles").fetchall() == [(page.url, "ok")]


class _Pipe:
    """The crawl's end of the message stream, in memory: the extractor workers fork from this
    process and would keep a real pipe's write end open, so the writer would never see it end."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._closed = False
        self._changed = threading.Condition()

    def write(self, data: bytes | memoryview) -> None:
        with self._changed:
            self._data += data
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def unread(self) -> int:
        with self._changed:
            return len(self._data)

    def read(self, size: int) -> bytes:
        with self._changed:
            self._changed.wait_for(lambda: len(self._data) >= size or self._closed)
            data = bytes(self._data[:size])
            del self._data[:size]
            return data


def test_large_pages_hold_the_crawl_back_sooner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credits count a page's bytes as well as messages: 128 pages in flight near the download
    limit (20 MB by default) would be gigabytes in the writer."""
    monkeypatch.setattr(service_module, "CREDIT_BYTES", 1000)  # a 7,000-byte page takes 8 credits
    config = ArchiveConfig(
        db_url=sqlite_url(tmp_path), warc_dir=tmp_path / "warcs", warc_max_size=10**9, software="test",
        index_dir=tmp_path / "indexes", sources=(("blog", "origin"),),
    )  # fmt: skip
    service = ArchiveService(config, report=lambda reply: None)
    stream = _Pipe()
    pages = 20
    for number in range(pages):
        page = HttpExchange(
            url=f"http://blog.example/{number:02d}", method="GET", request_headers=[("Host", "blog.example")],
            request_body=b"", status=200, reason="OK", protocol="HTTP/1.1",
            response_headers=[("Content-Type", "text/html")], body=b"%05d" % number + b"x" * 6995,
            fetched_at=datetime(2016, 11, 1, tzinfo=timezone.utc), ip_address="127.0.0.1",
        )  # fmt: skip
        for data in dump(("capture", "blog", number, Fetched(page, metadata={"source": "blog"}))):
            stream.write(data)
    stream.close()
    size = stream.unread() // pages
    threading.Thread(target=service.read, args=(stream,), daemon=True).start()
    _wait_for(lambda: stream.unread() <= size * 3, "the writer to read 17 pages")
    time.sleep(0.3)  # it would read on if it could
    assert stream.unread() == size * 3  # 16 queued with 8 credits each (all 128), the 17th waits for its own
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()  # the writes give the credits back
    runner.join(timeout=30)
    assert not runner.is_alive() and stream.unread() == 0
    with sqlite3.connect(tmp_path / DB_FILENAME) as db:
        assert db.execute("SELECT count(*) FROM captures").fetchone() == (pages,)


def _article_html() -> bytes:
    paragraphs = "".join(f"<p>{' '.join(random.Random(n).choices(WORDS, k=60))}.</p>" for n in range(8))
    return f"<html><head><title>Aleppo</title></head><body><article><h1>Aleppo</h1>{paragraphs}</article></body></html>".encode()


WORDS = "the siege of eastern aleppo continues while western media report what washington wants heard".split()


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
