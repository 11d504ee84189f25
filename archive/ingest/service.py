"""The archive writer process: everything a crawl stores, written away from the crawler.

A crawl process only fetches; it sends what it fetched down a pipe as pickled messages and
this process writes the WARC records and database rows, runs the extractor pool and matches
articles for syndication. Compressing, digesting, extracting and matching then use the
machine's other cores instead of competing with Scrapy's reactor for one interpreter lock.

Messages are tuples ``(kind, *args)`` with the kinds of ``ArchiveService.handlers``, read in
order from one stream. This process reports back on its own pipe: ``("counts", {...})`` now
and then, ``("log", logger, level, message)`` for its log records, ``("failed", message)`` if
it cannot start, ``("busy", message)`` if another crawl holds one of its sources, else
``("ready",)`` once it holds them and can write, and ``("finished", {source: [warc paths]})``
last; or ``("lost", message)`` if it lost its locks, and then it exits at once. It ignores SIGINT and SIGTERM, which a terminal, ``timeout`` and systemd send to the
crawl's whole process group: the crawl process decides when to stop and closes the pipe, and
everything sent before that is still written (its extractor workers are pebble's, which
exit on SIGTERM: a page being extracted then may be recorded as failed).

The crawl process starts this one first thing, so that the two start up side by side: this
one loads SQLAlchemy, opens the database, takes the crawl's locks and (for extraction)
loads trafilatura and forks its workers, while the crawl process loads Scrapy.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import queue
import threading
import time
from collections import Counter, defaultdict
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from archive.db.engine import Database
from archive.db.urls import url_key
from archive.doctor import repair_sources
from archive.errors import LockHeld, NotAnArticle
from archive.ingest.memory import keep_large_blocks
from archive.ingest.messages import load
from archive.ingest.store import CaptureStore, Extracted
from archive.warc.http import HttpBody

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from concurrent.futures import Future

    from archive.ingest.extract import ExtractorPool
    from archive.ingest.extraction import Extraction
    from archive.ingest.messages import ArchiveConfig, Fetched
    from archive.ingest.store import StoredCapture

logger = logging.getLogger(__name__)

#: Credits for messages read ahead of the writes; when they are all taken the crawl process
#: is held back. A message takes one, and one more per CREDIT_BYTES of page it carries, so
#: that pages near the download limit (20 MB by default) cannot pile up 128 at a time.
MAX_IN_FLIGHT = 128
CREDIT_BYTES = 1024 * 1024
_END = ("end",)  # queued when the crawl's stream has ended

#: Events handled together, at most: the captures among them share a transaction, and so
#: do the extraction results. Half the credits: a window must be able to fill while the
#: other half of the crawl's messages is still being written or extracted.
BATCH = MAX_IN_FLIGHT // 2
#: Seconds the writer waits for more events before handling fewer than BATCH. Pages are sent
#: to the extractor as they arrive, so the wait delays only the writes; a transaction's fixed
#: cost (commit, index pages, batch queries) then falls on ~32 pages instead of ~12 at the
#: pace of a crawl that extracts: the writer's CPU a page -20% (benchmarks/README.md).
LINGER = 1.0
#: Bytes read from the pipe at once.
PIPE_READ_SIZE = 1024 * 1024
#: Seconds between two counts reports.
REPORT_INTERVAL = 0.5


class _Ticket(NamedTuple):
    """What a page's extraction outcome needs when it comes back, without the page's body.

    ``number`` is the crawl's number for the capture: the extraction may be sent before the
    capture is stored, and its outcome finds the stored capture by it. ``credits``: those of
    the message that sent the page, held until its extraction is stored.
    """

    number: int
    metadata: Mapping[str, Any]
    evidence: Mapping[str, Any]
    credits: int


class _PageToExtract(NamedTuple):
    """A captured page on its way to the extractor: its body as fetched, or the spider's text."""

    ticket: _Ticket
    url: str
    html: HttpBody | str


class _Outcome(NamedTuple):
    """A page's extraction, or the error that stopped it, on its way back to the writing thread."""

    ticket: _Ticket
    extraction: Extraction | None
    error: str | None
    #: The error says the page is no article (``NotAnArticle``): a listing reached by discovery, no failure.
    not_article: bool = False


class ArchiveService:
    """Applies a crawl's messages to one ``CaptureStore`` per source (see ``run`` for the order).

    All writes happen on the thread calling ``run``; extraction results come back to it
    through the same queue as the messages. Each message read takes its ``_credits`` of MAX_IN_FLIGHT
    credits, given back once it is stored; a page sent to the extractor keeps its credits
    until its extraction is stored, so a slow extractor holds the crawl back too.
    """

    def __init__(self, config: ArchiveConfig, report: Callable[[tuple[Any, ...]], None]) -> None:
        self._report = report
        self._db = Database(config.db_url)
        if config.locks is not None:  # this process holds the sources' locks: what dead crawls left is ours
            for finding in repair_sources(self._db, config.warc_dir, config.index_dir, [name for name, _ in config.sources]):
                (logger.error if finding.failed else logger.warning)("%s", finding.line(dry_run=False))
        self._stores = {
            name: CaptureStore(
                self._db,
                config.warc_dir,
                name,
                kind,
                max_size=config.warc_max_size,
                software=config.software,
                index_dir=config.index_dir,
                writer_id=config.writer_id,
                remote=config.warc_storage,
                recheck=config.rechecks.get(name, ()),
            )
            for name, kind in config.sources
        }
        self._extractor = _extraction_pool(config) if config.extract_workers else None
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._credits = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self._extracting = 0  # pages sent to the extractor whose outcome is not stored yet
        self._holding = 0  # the credits of those pages
        self._ended = False  # the crawl's stream has ended: only extraction outcomes can come
        # Captures whose metadata record waits for the spider's verdict (and extraction).
        self._deferred: dict[tuple[str, int], StoredCapture] = {}
        # Stored captures whose extraction is under way, by (source, number).
        self._awaiting: dict[tuple[str, int], StoredCapture] = {}
        self._finishing: dict[str, tuple[str, Mapping[str, int]]] = {}
        self.counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.handlers: dict[str, Callable[..., None]] = {"page": self.page, "feed": self.feed, "finish": self.finish}

    def read(self, stream: Any) -> None:
        """Queue the messages of ``stream`` until it ends; holds back while their credits are all taken.

        Runs on its own thread: unpickling overlaps with writing.
        """
        try:
            while True:
                try:
                    message = load(stream)
                except EOFError:
                    break
                except (pickle.UnpicklingError, ValueError) as exc:  # cut short by a killed crawl
                    logger.error("the crawl process sent an unreadable message (%s); stopping there", exc)
                    break
                for _ in range(_credits(message)):
                    self._credits.acquire()
                self._events.put(message)
        finally:
            self._events.put(_END)

    def run(self) -> dict[str, list[Path]]:
        """Apply messages until the stream has ended and every extraction has been stored.

        Events are taken a window at a time (``_window``): its captures are written first,
        one batch per source, then its other messages in order, then its extraction results
        as one batch. A transaction's fixed cost is then shared by many pages even when they
        come slowly, as extractions do. A page's extraction is sent when its capture message
        is taken, so its result comes in that window or a later one: after its capture.
        """
        next_report = 0.0
        while not self._ended or self._extracting:
            holding = self._holding
            events = self._window()
            captures = [tuple(args) for kind, *args in events if kind == "capture"]
            extracted = [tuple(args) for kind, *args in events if kind == "extracted"]
            others = [event for event in events if event[0] not in {"capture", "extracted"}]
            for source, batch in _by_source(captures).items():
                self._apply(self.capture, {source}, source, batch, pages=len(batch))
            for kind, source, *args in others:
                self._apply(self.handlers[kind], {source}, source, *args)
            if extracted:
                self._apply(self.extracted, {source for source, _ in extracted}, extracted)
            # Each message from the crawl took its credits; one that started an extraction keeps
            # them until the extraction is stored, which gives them back.
            for _ in range(sum(map(_credits, events)) - (self._holding - holding)):
                self._credits.release()
            now = time.monotonic()
            if now >= next_report:
                self._report(("counts", self._counts()))
                next_report = now + REPORT_INTERVAL
        if self._extractor is not None:
            self._extractor.close()
        files = {name: self._finish_store(name, store) for name, store in self._stores.items()}
        self._report(("counts", self._counts()))
        self._db.dispose()
        return files

    def _window(self) -> list[tuple[Any, ...]]:
        """The next events: those that come within LINGER of the first, up to BATCH; fewer at
        the end of the stream, or once it has ended, when every extraction under way is in.

        Captures to extract are sent to the extractor as they are taken, those taken together
        in one go, not when they are written.
        """
        window: list[tuple[Any, ...]] = []
        deadline = None
        while len(window) < BATCH and not self._all_in(window):
            try:
                arrived = [self._events.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))]
            except queue.Empty:
                break
            while len(window) + len(arrived) < BATCH and arrived[-1] is not _END:
                try:
                    arrived.append(self._events.get_nowait())
                except queue.Empty:
                    break
            if arrived[-1] is _END:
                self._ended = True
                arrived.pop()
            self._extract_captured([event for event in arrived if event[0] == "capture"])
            window += arrived
            deadline = deadline or time.monotonic() + LINGER
        return window

    def _all_in(self, window: list[tuple[Any, ...]]) -> bool:
        """Whether no more events can come: the stream has ended and ``window`` holds every extraction's outcome."""
        return self._ended and sum(event[0] == "extracted" for event in window) == self._extracting

    def _apply(self, handler: Callable[..., None], sources: set[str], *args: Any, pages: int = 0) -> None:
        """Run a handler; a failure is logged and counted against ``sources``, and the archive goes on.

        ``pages``: the pages lost if it fails (a batch of captures), counted as ``not_stored``:
        the crawl's summary shows them and its exit code says part of it failed.
        """
        try:
            handler(*args)
        except Exception as exc:
            logger.error("archiving failed: %s", exc, exc_info=exc)
            for source in sources:
                self.counts[source]["errors"] += 1
                self.counts[source]["not_stored"] += pages

    def _finish_store(self, name: str, store: CaptureStore) -> list[Path]:
        """Close a source's WARC file and record its crawl with the crawler's and our own figures."""
        status, crawled = self._finishing.get(name, ("interrupted", {}))
        ours = self.counts[name]
        counts = {**crawled, "articles": ours["articles"], "errors": crawled.get("errors", 0) + ours["errors"]}
        return store.finish(status, counts)

    def _counts(self) -> dict[str, dict[str, int]]:
        return {name: dict(counter) for name, counter in self.counts.items()}

    # -- message handlers -------------------------------------------------------------------

    def _extract_captured(self, captures: list[tuple[str, str, int, Fetched]]) -> None:
        """Send the captured pages the spider asked to extract with their capture to the extractor."""
        by_source: defaultdict[str, list[_PageToExtract]] = defaultdict(list)
        for message in captures:
            _, source, number, fetched = message
            if fetched.metadata is not None and fetched.extract:  # the worker decodes the body
                body = HttpBody(fetched.exchange.response_headers, fetched.exchange.body)
                ticket = _Ticket(number, fetched.metadata, fetched.evidence, _credits(message))
                by_source[source].append(_PageToExtract(ticket, fetched.exchange.url, body))
        for source, pages in by_source.items():
            self._extract(source, pages)

    def capture(self, source: str, captures: list[tuple[int, Fetched]]) -> None:
        """Write a source's exchanges in one batch; keep those being extracted until their
        extraction comes, and those the spider has yet to decide on until their ``page`` message."""
        stored = self._stores[source].store_exchanges([fetched for _, fetched in captures])
        for (number, fetched), capture in zip(captures, stored, strict=True):
            if fetched.metadata is None:
                self._deferred[(source, number)] = capture
            elif fetched.extract:
                self._awaiting[(source, number)] = capture

    def page(
        self, source: str, number: int, html: str | None, metadata: Mapping[str, Any], evidence: Mapping[str, Any]
    ) -> None:
        """The spider's verdict on a captured page: extract ``html``, or just write the metadata record."""
        capture = self._deferred.pop((source, number), None)
        if capture is None:
            return  # its capture failed to be written, which was reported then
        if html is None or self._extractor is None:
            self._stores[source].store_metadata(capture, metadata)
        else:
            self._awaiting[(source, number)] = capture
            ticket = _Ticket(number, metadata, evidence, _page_credits(len(html)))
            self._extract(source, [_PageToExtract(ticket, capture.url, html)])

    def _extract(self, source: str, pages: list[_PageToExtract]) -> None:
        """Send pages to the extractor, several to a task; each outcome comes back through the event queue."""
        assert self._extractor is not None
        self._extracting += len(pages)
        self._holding += sum(page.ticket.credits for page in pages)

        def done(ticket: _Ticket, future: Future[Extraction]) -> None:  # on pebble's thread
            try:
                outcome = _Outcome(ticket, future.result(), None)
            except Exception as exc:  # ExtractionError, or a broken pool: the page is recorded as failed
                outcome = _Outcome(ticket, None, str(exc), isinstance(exc, NotAnArticle))
            self._events.put(("extracted", source, outcome))

        futures = self._extractor.submit_many([(page.html, page.url) for page in pages])
        for page, future in zip(pages, futures, strict=True):  # the callback keeps all but the body
            future.add_done_callback(partial(done, page.ticket))

    def extracted(self, batch: list[tuple[str, _Outcome]]) -> None:
        """Store extractions (or their failures), per source in one transaction, and match the articles."""
        by_source: defaultdict[str, list[Extracted]] = defaultdict(list)
        for source, (ticket, extraction, error, not_article) in batch:
            capture = self._awaiting.pop((source, ticket.number), None)
            if capture is not None:  # else its capture failed to be written, which was reported then
                by_source[source].append(Extracted(capture, extraction, error, ticket.metadata, ticket.evidence, not_article))
        try:
            for source, items in by_source.items():
                self._stores[source].store_articles(items)
                for item in items:
                    if item.not_article:
                        logger.info("%s: %s", source, item.error)
                    elif item.error is not None:
                        logger.warning("%s: extraction failed: %s", source, item.error)
                        self.counts[source]["extraction_failed"] += 1
                        self.counts[source]["errors"] += 1
                    else:
                        self.counts[source]["articles"] += 1
        finally:
            self._extracting -= len(batch)
            self._holding -= sum(outcome.ticket.credits for _, outcome in batch)

    def feed(
        self,
        source: str,
        url: str,
        kind: str,
        title: str | None,
        entries: list[Mapping[str, Any]],
        poll: Mapping[str, Any] | None,
    ) -> None:
        """Store a feed's entries and, when the crawl polled it, the poll's outcome."""
        self._stores[source].store_feed(url, kind, title, entries, poll)

    def finish(self, source: str, status: str, counts: Mapping[str, int]) -> None:
        """Note how a source's crawl ended; its files close once every extraction is stored."""
        self._finishing[source] = (status, counts)


def _by_source(captures: list[tuple[str, int, Fetched]]) -> dict[str, list[tuple[int, Fetched]]]:
    """Capture messages' arguments grouped by source: each source's batch is written, or fails, alone."""
    grouped: defaultdict[str, list[tuple[int, Fetched]]] = defaultdict(list)
    for source, number, fetched in captures:
        grouped[source].append((number, fetched))
    return grouped


def _credits(message: tuple[Any, ...]) -> int:
    """The credits a message takes (see MAX_IN_FLIGHT); none for an extraction's outcome,
    which comes from this process, not from the crawl."""
    kind = message[0]
    if kind == "capture":
        return _page_credits(len(message[3].exchange.body))
    if kind == "page":
        return _page_credits(len(message[3] or ""))
    return 0 if kind == "extracted" else 1


def _page_credits(size: int) -> int:
    return min(BATCH, 1 + size // CREDIT_BYTES)


def _extraction_pool(config: ArchiveConfig) -> ExtractorPool:
    # Loads trafilatura and numpy: only a crawl that extracts waits for them before it fetches.
    from archive.ingest.extraction import extraction_pool

    return extraction_pool(
        config.extract_workers, config.extract_timeout, fast=config.extract_fast, max_bytes=config.extract_max_bytes
    )


class _ReportHandler(logging.Handler):
    """Sends this process's log records to the crawl process, which logs them as its own."""

    def __init__(self, report: Callable[[tuple[Any, ...]], None]) -> None:
        super().__init__()
        self._send = report

    def emit(self, record: logging.LogRecord) -> None:
        self._send(("log", record.name, record.levelno, record.getMessage()))


def _one_line(exc: Exception) -> str:
    """An error as one line; a database error by its driver's message, as the CLI shows one."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy's DBAPIError wraps the driver's
    return f"{type(cause).__name__}: " + " ".join(str(cause).split())


def _serve(config: ArchiveConfig, stream: Any, report: Callable[[tuple[Any, ...]], None]) -> dict[str, list[Path]] | None:
    """Open the archive, say ``ready``, and store the crawl's messages; None if it cannot be opened."""
    try:
        service = ArchiveService(config, report)
    except Exception as exc:
        report(("failed", _one_line(exc)))
        return None
    report(("ready",))
    reader = threading.Thread(target=service.read, args=(stream,), name="archive-reader", daemon=True)
    reader.start()
    url_key("http://127.0.0.1/")  # loads SURT keys while the crawl fetches robots.txt and its feeds
    gc.freeze()  # the modules and the service live as long as the process (see crawler/runner.py)
    return service.run()


def _stop_lost(report: Callable[[tuple[Any, ...]], None], message: str) -> None:
    """The crawl's locks are lost: say so and end now, writing nothing more (another crawl
    may hold them soon); what this left is repaired as after a kill."""
    report(("lost", message))
    logging.shutdown()
    os._exit(1)


def main(messages_fd: int, replies_fd: int) -> None:
    """Entry point of the writer process, started with SIGINT and SIGTERM ignored (``crawler/channel.py``):
    the first message is the ``ArchiveConfig``, then the crawl's messages until it closes the pipe."""
    keep_large_blocks()  # before the extractor workers fork: they inherit it
    # Nor may they hold the crawl's pipes: if this process dies, the crawl must see both ends
    # close at once (and stop), not when the orphaned workers notice and exit.
    os.register_at_fork(after_in_child=lambda: (os.close(messages_fd), os.close(replies_fd)))
    replies = Connection(replies_fd, readable=False)
    lock = threading.Lock()

    def report(reply: tuple[Any, ...]) -> None:
        with lock:
            try:
                replies.send(reply)
            except BrokenPipeError:
                pass  # the crawl process is gone (stopped as it started): what it sent is still stored

    root = logging.getLogger()
    root.handlers[:] = [_ReportHandler(report)]
    root.setLevel(logging.INFO)
    # Large reads: the crawl side is woken once per read, and a page is ~100 KiB.
    with open(messages_fd, "rb", buffering=PIPE_READ_SIZE) as stream:
        config: ArchiveConfig = load(stream)
        with contextlib.ExitStack() as held:
            try:
                if config.locks is not None:
                    held.enter_context(config.locks.locks(on_lost=partial(_stop_lost, report)))
            except LockHeld as exc:
                report(("busy", str(exc)))
                files = None
            except Exception as exc:  # the database or Redis is unreachable
                report(("failed", _one_line(exc)))
                files = None
            else:
                files = _serve(config, stream, report)
    if files is not None:
        report(("finished", {name: [str(path) for path in paths] for name, paths in files.items()}))
    # Everything is written, closed and reported: end as multiprocessing's children do,
    # without the interpreter's teardown (freeing every object and module took 0.4 s
    # here, with the crawl process waiting for this exit).
    replies.close()
    logging.shutdown()
    os._exit(0)
