"""The crawl's end of the archive writer process (``archive/ingest/service.py``).

The writer is started before anything else of the crawl: it loads its modules, opens the
database and takes the crawl's locks on the machine's other core while this process loads
Scrapy, and the crawl waits for its ``ready`` (``wait_ready``) only before fetching.

Messages are pickled onto a pipe (framed by ``archive.ingest.messages.dump``, page bodies out of
band) through an asyncio write transport: the reactor never blocks on a write, and when
the writer process falls behind the transport's buffer fills, ``drain()`` waits, and the
item pipeline (so Scrapy's scraper, so the downloader) slows down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from multiprocessing import Pipe
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.errors import LockHeld, LockLost, SyndicrawlError
from archive.ingest.messages import ArchiveConfig, dump, widen_pipe

if TYPE_CHECKING:
    from collections.abc import Sequence

    from archive.db.locks import LockRequest
    from syndicrawl.settings import Settings
    from syndicrawl.sources import Source

logger = logging.getLogger(__name__)

#: Bytes of messages the crawl process holds before it waits for the writer. Small: asyncio's
#: pipe transport moves its whole buffer on every write, and the pipe and the writer's
#: read-ahead already hold a few dozen pages.
HIGH_WATER = 256 * 1024


def archive_config(settings: Settings, sources: Sequence[Source], locks: LockRequest | None = None) -> ArchiveConfig:
    """What the writer of a crawl of ``sources`` needs; it takes ``locks`` before it is ready."""
    return ArchiveConfig(
        db_url=settings.db_url,
        warc_dir=settings.warc_dir,
        warc_max_size=settings.warc_max_size,
        index_dir=settings.index_dir,
        software=settings.user_agent,
        sources=tuple((source.name, source.kind) for source in sources),
        rechecks={source.name: source.recheck for source in sources},
        extract_workers=settings.extract_workers if settings.extract_enabled else 0,
        extract_timeout=settings.extract_timeout,
        extract_fast=settings.extract_fast,
        extract_max_bytes=settings.extract_max_bytes,
        locks=locks,
        writer_id=settings.queue_worker_id,
        warc_storage=settings.warcs.remote,
    )


class ArchiveChannel(asyncio.Protocol):
    """Starts the writer process and sends it messages; collects its counts, logs and files."""

    def __init__(self, config: ArchiveConfig) -> None:
        # A fresh interpreter, not a fork: this process may already run threads (a live
        # progress display), and the writer needs none of the crawler's imports.
        receive, self._send_end = Pipe(duplex=False)
        widen_pipe(self._send_end.fileno())
        self._replies, reply_end = Pipe(duplex=False)
        fds = (receive.fileno(), reply_end.fileno())
        # SIGINT and SIGTERM ignored before anything is imported: a SIGTERM to the crawl's process
        # group during the import killed the writer (the crawl then failed instead of stopping).
        ignore = "import signal; [signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)]"
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"{ignore}; from archive.ingest.service import main; main{fds}"], pass_fds=fds
        )
        receive.close()
        reply_end.close()
        for data in dump(config):  # small, and the pipe is empty: this write does not wait
            os.write(self._send_end.fileno(), data)
        self._transport: asyncio.WriteTransport | None = None
        self._early: list[bytes | memoryview] = []  # what is sent before the reactor runs
        self._resumed: asyncio.Future[None] | None = None
        self.counts: dict[str, dict[str, int]] = {}
        self.files: dict[str, list[str]] = {}
        self.failure: str | None = None
        self._ready = False
        self._busy: str | None = None
        self._lost: str | None = None  # the writer lost the crawl's locks and stopped

    def wait_ready(self) -> None:
        """Block until the writer holds the crawl's locks and can store; raises ``LockHeld``
        if another crawl holds one, ``SyndicrawlError`` if the archive cannot be opened."""
        while not (self._ready or self._busy or self.failure):
            try:
                self._take(self._replies.recv())
            except EOFError:
                raise SyndicrawlError(
                    f"the archive writer process failed to start (exit code {self._process.wait()})"
                ) from None
        if self._busy:
            raise LockHeld(self._busy)
        if self._lost:
            raise LockLost(self._lost)
        if self.failure:
            raise SyndicrawlError(f"the archive could not be opened: {self.failure}")

    async def connect(self) -> None:
        """Attach the pipe to the running event loop; call once the reactor runs."""
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(self._send_end.fileno(), "wb", buffering=0, closefd=False)
        transport, _ = await loop.connect_write_pipe(lambda: self, pipe)
        transport.set_write_buffer_limits(high=HIGH_WATER)
        self._transport = transport
        for data in self._early:
            transport.write(data)
        self._early.clear()

    def send(self, *message: Any) -> None:
        """Queue one message, the tuple ``message``; never blocks. Dropped once the writer
        has failed: nothing can store it, and the crawl is stopping."""
        if self.failure is not None:
            return
        pieces = dump(message)
        if self._transport is None:
            self._early += pieces
        else:
            for data in pieces:
                self._transport.write(data)

    async def drain(self) -> None:
        """Wait while the writer process is behind."""
        if self._resumed is not None:
            await asyncio.shield(self._resumed)

    async def flush(self) -> None:
        """Wait until every message sent so far is in the pipe."""
        while self._transport is not None and self._transport.get_write_buffer_size():
            await asyncio.sleep(0.01)

    def pause_writing(self) -> None:
        self._resumed = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._resumed is not None:
            self._resumed.set_result(None)
            self._resumed = None

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            logger.error("the archive writer process stopped reading: %s", exc)
            self.failure = self.failure or f"the archive writer process stopped reading: {exc}"
        self.resume_writing()

    def poll(self) -> None:
        """Take in what the writer process reported so far, without waiting. Its replies end
        only when it exits, so an end while the crawl runs means it died: ``failure`` says so."""
        try:
            while self._replies.poll():
                self._take(self._replies.recv())
        except (EOFError, OSError):
            self.failure = self.failure or "the archive writer process ended before the crawl"

    def close(self) -> dict[str, list[Path]]:
        """End the stream, wait for the writer to store everything, and return its WARC files."""
        unsent = self._transport.get_write_buffer_size() if self._transport is not None else 0
        if unsent:
            logger.error("%d bytes of captures were not handed to the archive writer (forced stop)", unsent)
        if self._early:  # the reactor never ran (every crawl failed as it started): what they sent
            with contextlib.suppress(BrokenPipeError), open(self._send_end.fileno(), "wb", closefd=False) as pipe:
                pipe.writelines(self._early)
        self._send_end.close()
        while True:
            try:
                self._take(self._replies.recv())
            except EOFError:
                break
        exit_code = self._process.wait()
        if self._lost:
            raise LockLost(f"{self._lost}; the crawl stopped")
        if self.failure is not None and not self._ready:
            raise SyndicrawlError(f"the archive could not be opened: {self.failure}")
        if exit_code:
            raise SyndicrawlError(f"the archive writer process failed (exit code {exit_code})")
        return {name: [Path(path) for path in paths] for name, paths in self.files.items()}

    def _take(self, reply: tuple[Any, ...]) -> None:
        kind, *args = reply
        if kind == "counts":
            self.counts = args[0]
        elif kind == "log":
            name, level, message = args
            logging.getLogger(name).log(level, "%s", message)
        elif kind == "ready":
            self._ready = True
        elif kind == "busy":
            self._busy = args[0]
        elif kind == "lost":  # the writer has stopped: so must the crawl
            self._lost = self.failure = args[0]
        elif kind == "failed":  # before "ready": wait_ready raises it
            self.failure = args[0]
        elif kind == "finished":
            self.files = args[0]
