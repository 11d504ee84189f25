"""The daemon's jobs: each crawl or poll is a ``syndicrawl crawl`` subprocess (Scrapy's reactor
cannot restart in one process), started here and stopped together on shutdown. A queue worker
crawls several sources in one such process (``scheduler.batches``).

``crawl`` is the function every persisted schedule refers to: module-level, plain arguments.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from archive.db import feedpolls, runs
from archive.db.engine import Database
from archive.db.locks import live_holders
from archive.errors import SyndicrawlError
from scheduler.schedules import CrawlTarget
from syndicrawl import exitcodes
from syndicrawl.settings import Settings, load_settings

if TYPE_CHECKING:
    from archive.db.models import Crawl

logger = logging.getLogger(__name__)

#: After a forced stop (second SIGINT), seconds before a crawl is killed.
_KILL_AFTER = 10.0
#: A source's crawl log is rotated (to .1) past this size.
_LOG_MAX_BYTES = 10_000_000


@dataclass(frozen=True)
class Finished:
    """How a crawl subprocess ended; ``error`` is its last ``Error:`` line, if any."""

    returncode: int
    seconds: float
    stderr: str

    @property
    def error(self) -> str | None:
        lines = [line for line in self.stderr.splitlines() if line.startswith("Error: ")]
        if lines:
            return lines[-1].removeprefix("Error: ")
        if self.returncode < 0:
            return f"killed by {signal.Signals(-self.returncode).name}"
        return None


def crawl_command(targets: Sequence[CrawlTarget], *options: str) -> list[str]:
    """``python -m syndicrawl crawl SOURCE... ...`` with the schedule's files (the same for every target)."""
    first = targets[0]
    command = [sys.executable, "-m", "syndicrawl", "crawl", *(t.source for t in targets), "--config", first.config_file,
               "--data-dir", first.data_dir, *options]
    if first.settings_file:
        command += ["--settings", first.settings_file]
    return command


class Children:
    """The crawl processes of this daemon, at most one per source (a process may crawl several); all
    stopped together.

    Each runs in a session of its own: a Ctrl-C in the daemon's terminal reaches only the
    daemon, which then asks each crawl to stop once (Scrapy's graceful shutdown).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy: set[str] = set()
        self._running: set[subprocess.Popen[str]] = set()
        self.closed = False

    def run(
        self, command: Sequence[str], sources: Sequence[str], log: Path, *, wait: bool,
        on_start: Callable[[], None] | None = None,
    ) -> Finished | None:
        """Run ``command`` for ``sources``, its messages appended to ``log``; None if the daemon is
        stopping or (``wait`` False) a source is busy. With ``wait``, first wait for this
        daemon's other crawls of the sources. ``on_start`` is called once the process runs.

        A file, not a pipe: a crawl outlives a daemon killed with SIGKILL, and must not die
        writing to a pipe nobody reads.
        """
        with self._cond:
            while wait and self._busy.intersection(sources) and not self.closed:
                self._cond.wait()
            if self.closed or self._busy.intersection(sources):
                return None
            self._busy.update(sources)
        process: subprocess.Popen[str] | None = None
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            if log.exists() and log.stat().st_size > _LOG_MAX_BYTES:
                log.replace(log.with_suffix(".log.1"))
            with log.open("a", encoding="utf-8") as out:
                start = out.tell()
                with self._cond:
                    if self.closed:
                        return None
                    started = time.monotonic()
                    process = subprocess.Popen(
                        command, stdout=subprocess.DEVNULL, stderr=out, text=True, start_new_session=True
                    )
                    self._running.add(process)
                if on_start is not None:
                    on_start()
                process.wait()
            with log.open(encoding="utf-8", errors="replace") as written:
                written.seek(start)
                messages = written.read()
        finally:
            with self._cond:
                if process is not None:
                    self._running.discard(process)
                self._busy.difference_update(sources)
                self._cond.notify_all()
        return Finished(process.returncode, time.monotonic() - started, messages)

    def busy(self) -> set[str]:
        """The sources of this process's running crawls and polls."""
        with self._cond:
            return set(self._busy)

    def stop(self, timeout: float) -> None:
        """Start nothing more; ask every crawl to stop (SIGINT), then insist, then kill."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
            running = list(self._running)
        for process in running:
            logger.info("asking crawl pid %d to stop", process.pid)
            _signal(process, signal.SIGINT)
        for stage, grace in (("forcing", timeout), ("killing", _KILL_AFTER)):
            deadline = time.monotonic() + grace
            for process in running:
                try:
                    process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            running = [p for p in running if p.poll() is None]
            for process in running:
                logger.warning("crawl pid %d did not stop in %.0fs: %s it", process.pid, grace, stage)
                _signal(process, signal.SIGINT if stage == "forcing" else signal.SIGKILL)


def _signal(process: subprocess.Popen[str], number: signal.Signals) -> None:
    try:
        os.kill(process.pid, number)
    except ProcessLookupError:
        pass  # it ended meanwhile


#: This process's crawls: the persisted job function below can only reach them through a global.
CHILDREN = Children()


def log_path(settings: Settings, source: str) -> Path:
    """Where the messages of a source's scheduled crawls and polls go: DATA_DIR/logs/SOURCE.log."""
    return settings.data_dir / "logs" / f"{source}.log"


#: Where a queue worker's crawls of several sources at once write their messages, in DATA_DIR/logs.
BATCH_LOG = "batches.log"


def _now() -> datetime:
    return datetime.now(UTC)


def crawl(source: str, config_file: str, data_dir: str, settings_file: str | None) -> None:
    """Run one scheduled crawl of ``source`` here, or enqueue it for the workers when
    ``[queue] redis_url`` is set (the queue code, and Dramatiq, load only then)."""
    target = CrawlTarget(source, config_file, data_dir, settings_file)
    try:
        settings = load_settings(Path(settings_file) if settings_file else None, overrides={"data_dir": Path(data_dir)})
    except SyndicrawlError as exc:
        logger.error("crawl %s not started: %s", source, exc)
        return
    if settings.queue_redis_url:
        from scheduler import queue

        queue.enqueue_crawl(settings, target)
    else:
        run_crawl([target], settings)


@dataclass(frozen=True)
class Ran:
    """How one source's scheduled crawl went, as recorded (``schedule_runs``)."""

    status: str  # finished, failed, interrupted or skipped
    detail: str | None
    #: Not crawled: another process crawls the source (retry later).
    locked: bool = False
    #: Not started, or stopped halfway: this process is stopping (a queue runs it again elsewhere).
    stopped: bool = False


#: The line ``syndicrawl crawl`` logs for a source whose pages it fetched but could not store.
_NOT_STORED = re.compile(r"(?P<source>[^\s:]+): \d+ pages fetched but not stored")


def run_crawl(targets: Sequence[CrawlTarget], settings: Settings) -> dict[str, Ran]:
    """Crawl ``targets`` (one source's, or a batch's of one sources file) in one subprocess and
    record how each went (a ``schedule_runs`` row a source).

    Waits for this process's other crawls and polls of the sources to end. A source that another
    process crawls is skipped and recorded so, before anything starts; if one is taken meanwhile,
    the crawl refuses them all, and all are skipped.
    """
    names = [t.source for t in targets]
    database = Database(settings.db_url)
    try:
        ours = CHILDREN.busy()  # locked by this process's own crawl or poll: waited for, not skipped
        held = live_holders(settings.locks, [f"crawl:{name}" for name in names if name not in ours])
        ran: dict[str, Ran] = {}
        with database.session() as s, s.begin():
            for name in names:
                if (holder := held.get(f"crawl:{name}")) is not None:
                    detail = f"source '{name}' is being crawled: {holder.describe()}"
                    now = _now()
                    runs.finish_run(s, runs.start_run(s, name, now), status="skipped", finished_at=now,
                                    detail=detail, crawl_id=None)
                    ran[name] = Ran("skipped", detail, locked=True)
        crawled = [t for t in targets if t.source not in ran]
        if not crawled:
            _log(ran)
            return ran
        started = _now()
        with database.session() as s, s.begin():
            run_ids = {t.source: runs.start_run(s, t.source, started) for t in crawled}
        log = log_path(settings, crawled[0].source) if len(crawled) == 1 else settings.data_dir / "logs" / BATCH_LOG
        done = CHILDREN.run(crawl_command(crawled), list(run_ids), log, wait=True,
                            on_start=lambda: logger.info("crawl %s started", ", ".join(run_ids)))
        with database.session() as s, s.begin():
            for source, run_id in run_ids.items():
                made = runs.crawl_since(s, source, started)
                ran[source] = outcome = _outcome(done, made, source, batch=len(run_ids) > 1)
                runs.finish_run(s, run_id, status=outcome.status, finished_at=_now(), detail=outcome.detail,
                                crawl_id=made.id if made is not None and outcome.status != "skipped" else None)
                if made is not None and done is not None and outcome.status != "skipped":
                    logger.info("crawl %s %s in %.1fs: %d pages, %d articles, %d errors%s", source, outcome.status,
                                done.seconds, made.pages, made.articles, made.errors,
                                f" ({outcome.detail})" if outcome.detail else "")
                else:
                    _log({source: outcome})
        return ran
    finally:
        database.dispose()


def _outcome(done: Finished | None, made: Crawl | None, source: str, *, batch: bool) -> Ran:
    """One source's part of a crawl process's end. In a batch, exit code 4 says that some source
    failed: each source's own crawl row (and a line naming it, for pages not stored) says which."""
    if done is None:
        return Ran("skipped", "the daemon is stopping", stopped=True)
    stopped = CHILDREN.closed and done.returncode != 0
    if done.returncode == exitcodes.LOCKED:
        return Ran("skipped", done.error, locked=True)
    if made is not None and made.status in {"failed", "interrupted"}:
        return Ran(made.status, done.error, stopped=stopped)
    if done.returncode == 0 or (batch and done.returncode == exitcodes.PARTLY_FAILED and made is not None
                                and made.status == "finished"
                                and source not in {m["source"] for m in _NOT_STORED.finditer(done.stderr)}):
        return Ran("finished", None)
    return Ran("failed", done.error or f"exit code {done.returncode}", stopped=stopped)


def _log(ran: dict[str, Ran]) -> None:
    for source, outcome in ran.items():
        logger.info("crawl %s %s: %s", source, outcome.status, outcome.detail)


def polled(feeds: Sequence[str], pages: Sequence[str]) -> str:
    """``2 feeds, 1 page to recheck``: what a poll fetches, for the daemon's log."""
    parts = [f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''}" if feeds else "",
             f"{len(pages)} page{'s' if len(pages) != 1 else ''} to recheck" if pages else ""]
    return ", ".join(part for part in parts if part)


def run_poll(
    target: CrawlTarget, settings: Settings, feeds: Sequence[str], pages: Sequence[str] = ()
) -> tuple[Finished, Crawl | None] | None:
    """Poll ``feeds`` of a source and recheck its article ``pages`` in a subprocess, and record what
    its process could not: a poll refused by the source's lock postpones the feeds
    ``poll_min_interval``, a feed the poll never reported is a ``process`` failure. How it ended and
    the crawl it made; None if it did not start (this process crawls the source right now, which
    fetches its feeds, or it is stopping).
    """
    started = _now()
    options = ["--poll", *(option for url in feeds for option in ("--feed", url)),
               *(option for url in pages for option in ("--recheck", url))]
    done = CHILDREN.run(crawl_command([target], *options), [target.source], log_path(settings, target.source),
                        wait=False,
                        on_start=lambda: logger.info("poll %s started: %s due", target.source, polled(feeds, pages)))
    if done is None:
        return None
    database = Database(settings.db_url)
    try:
        with database.session() as s, s.begin():
            if done.returncode == exitcodes.LOCKED:
                feedpolls.postpone(s, target.source, feeds, _now() + timedelta(seconds=settings.poll_min_interval))
                logger.info("poll %s skipped: %s", target.source, done.error)
                return done, None
            for url in set(feeds) - feedpolls.polled_since(s, target.source, feeds, started):
                error = done.error or f"the poll ended with exit code {done.returncode} before fetching it"
                feedpolls.record_failure(s, target.source, url, _now(), "process", error)
            return done, runs.crawl_since(s, target.source, started)
    finally:
        database.dispose()
