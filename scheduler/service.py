"""The scheduler daemon: runs the schedules of the job store and polls their sources' feeds.

One daemon per job store: it holds the ``daemon`` lock while it runs. APScheduler runs the
persisted schedules (``coalesce`` and ``misfire_grace_time``: a daemon that was down runs
one catch-up crawl, not one per missed run; ``max_instances=1``), and a ``tick`` job in
memory every ``[scheduler] tick`` seconds, which

- applies the recorded feed fetches (of its polls, its crawls and manual crawls) to each
  feed's polling state (``scheduler.outcomes``);
- starts a poll (``syndicrawl crawl SOURCE --poll --feed URL ... --recheck URL ...``) for each
  scheduled, not paused source with feeds due or article pages due a recheck (its ``recheck``
  policy: fetched again, with the stored capture's validators, at those times after the first);
- wakes APScheduler, which reads the job store again: that is how schedules added, paused
  or removed by ``syndicrawl schedule`` while the daemon runs take effect.

SIGTERM or SIGINT: no new job starts, running crawls get a graceful stop, the daemon exits 0.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore

from archive.db import feedpolls, rechecks
from archive.db.engine import Database
from archive.db.locks import Locks
from archive.errors import SyndicrawlError
from scheduler.jobs import CHILDREN, polled, run_poll
from scheduler.outcomes import apply_outcomes
from scheduler.polling import PollPolicy
from scheduler.schedules import EXECUTOR, STORE, CrawlTarget, Scheduler, job_store
from syndicrawl import exitcodes
from syndicrawl.durations import format_duration
from syndicrawl.sources import Source, load_sources

if TYPE_CHECKING:
    from archive.db.models import FeedPolling
    from syndicrawl.settings import Settings

logger = logging.getLogger(__name__)

POLLS = "polls"


def _now() -> datetime:
    return datetime.now(UTC)


def feed_summary(state: FeedPolling, now: datetime) -> str:
    """How a feed's last fetch went and when the next one is, for the daemon's log."""
    if state.last_error_at is not None and state.last_error_at == state.last_polled_at:
        last = f"{state.last_error_kind} error ({state.last_error}), {state.consecutive_errors} in a row"
    elif state.last_status == 304:
        last = "304 not modified"
    else:
        last = f"{state.last_status}" + (", new entries" if state.last_new_entry_at == state.last_polled_at else "")
    wait = format_duration((state.next_poll_at - now).total_seconds()) if state.next_poll_at else "now"
    return f"{last}, next poll in {wait}"


class Daemon:
    """The scheduler and its jobs; ``run`` until ``stop`` is set."""

    def __init__(self, settings: Settings, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.policy = PollPolicy.from_settings(settings)
        self.rng = rng or random.Random()
        self.database = Database(settings.db_url)
        self._apply_lock = threading.Lock()
        self._claims_lock = threading.Lock()
        self._polling: set[str] = set()
        self._sources: dict[str, tuple[float, dict[str, Source]]] = {}
        self._ensured: dict[str, tuple[str, ...]] = {}
        self._reported: set[str] = set()
        self._executors = {
            EXECUTOR: ThreadPoolExecutor(settings.max_crawls),
            POLLS: ThreadPoolExecutor(settings.max_polls),
            "default": ThreadPoolExecutor(1),
        }
        self.scheduler = Scheduler(
            jobstores={STORE: job_store(self.database.engine, daemon=True), "default": MemoryJobStore()},
            executors=self._executors,
            timezone=UTC,
        )

    def run(self, stop: threading.Event) -> None:
        with self.database.session():  # schema to head before APScheduler adds its table
            pass
        self.scheduler.add_job(self.tick, "interval", seconds=self.settings.tick, id="tick", next_run_time=_now(),
                               coalesce=True, max_instances=1)
        self.scheduler.start()
        schedules = self.scheduler.get_jobs(jobstore=STORE)
        logger.info(
            "scheduler started: %d schedules (%s); feeds polled every %s to %s",
            len(schedules),
            "; ".join(f"{job.id} {job.name}" + (" paused" if job.next_run_time is None else "") for job in schedules)
            or "add one with: syndicrawl schedule add",
            format_duration(self.policy.min_interval),
            format_duration(self.policy.max_interval),
        )
        while not stop.wait(1.0):
            pass
        self.scheduler.pause()
        logger.info("stopping: no new crawls; running crawls are asked to stop")
        CHILDREN.stop(self.settings.stop_timeout)
        # The running jobs end first: APScheduler's shutdown waits for them holding its job stores'
        # lock, which a running tick takes to read the schedules or add a poll (a deadlock).
        for executor in self._executors.values():
            executor.shutdown(wait=True)
        self.scheduler.shutdown(wait=True)
        self.database.dispose()
        logger.info("scheduler stopped")

    def apply(self) -> None:
        with self._apply_lock, self.database.session() as s, s.begin():
            apply_outcomes(s, self.policy, self.rng)

    def _source(self, target: CrawlTarget) -> Source | None:
        """The scheduled source from its sources file, read again when the file changes."""
        path = target.config_file
        try:
            mtime = Path(path).stat().st_mtime
            if self._sources.get(path, (None,))[0] != mtime:
                self._sources[path] = (mtime, {s.name: s for s in load_sources(Path(path))})
            self._reported.discard(path)
            source = self._sources[path][1].get(target.source)
        except (OSError, SyndicrawlError) as exc:
            source, problem = None, str(exc)
        else:
            problem = f"{path}: no source named '{target.source}' any more"
        if source is None and path not in self._reported:
            logger.error("schedule %s: its feeds are not polled: %s", target.source, problem)
            self._reported.add(path)
        return source

    def tick(self) -> None:
        """Apply recorded fetches, then start a poll for each scheduled source with feeds or article
        pages due (``recheck``: pages are fetched again some time after their first capture)."""
        self.apply()
        now = _now()
        for job in self.scheduler.get_jobs(jobstore=STORE):
            if job.next_run_time is None:
                continue  # paused: neither crawled nor polled
            target = CrawlTarget.of(job)
            source = self._source(target)
            if source is None or not (source.feeds or source.recheck):
                continue
            with self.database.session() as s, s.begin():
                if self._ensured.get(source.name) != source.feeds:
                    feedpolls.ensure_polled_feeds(s, source.name, source.kind, source.feeds)
                    self._ensured[source.name] = source.feeds
                due = tuple(feedpolls.due_feeds(s, source.name, source.feeds, now))
                pages = tuple(plan.url for plan in rechecks.due(s, source.name, now)) if source.recheck else ()
            if (due or pages) and self.settings.queue_redis_url:
                self._enqueue_poll(target, due, pages)
            elif (due or pages) and self._claim(source.name):
                self._postpone(pages, self.policy.min_interval)
                self.scheduler.add_job(self.poll, args=(target, due, pages), id=f"poll:{source.name}",
                                       executor=POLLS, misfire_grace_time=None)

    def _postpone(self, pages: tuple[str, ...], seconds: float) -> None:
        """Claim ``pages`` for the poll about to fetch them: their rechecks are due again in
        ``seconds`` unless its captures move them on (a page that gave no answer is tried again then)."""
        if pages:
            with self.database.session() as s, s.begin():
                rechecks.postpone(s, pages, _now() + timedelta(seconds=seconds))

    def _enqueue_poll(self, target: CrawlTarget, feeds: tuple[str, ...], pages: tuple[str, ...]) -> None:
        """Hand a poll to the workers. Its feeds and pages are postponed ``poll_max_interval`` first:
        that is the claim, kept in the database, so later ticks (and a restarted daemon) do not
        enqueue it again; the poll's recorded fetches then set their real next poll and recheck."""
        from scheduler import queue

        with self.database.session() as s, s.begin():
            feedpolls.postpone(s, target.source, feeds, _now() + timedelta(seconds=self.policy.max_interval))
        self._postpone(pages, self.policy.max_interval)
        queue.enqueue_poll(self.settings, target, feeds, pages)
        logger.info("poll %s queued: %s due", target.source, polled(feeds, pages))

    def _claim(self, source: str) -> bool:
        with self._claims_lock:
            if source in self._polling:
                return False
            self._polling.add(source)
            return True

    def poll(self, target: CrawlTarget, feeds: tuple[str, ...], pages: tuple[str, ...] = ()) -> None:
        """Poll ``feeds`` of a source and recheck its ``pages`` in a subprocess, then decide when to
        poll each feed next."""
        try:
            ran = run_poll(target, self.settings, feeds, pages)
            if ran is None or ran[0].returncode == exitcodes.LOCKED:
                return
            done, made = ran
            self.apply()
            with self.database.session() as s:
                states = {row.url: row.state for row in feedpolls.feed_statuses(s, target.source)}
            now = _now()
            logger.info(
                "poll %s %s in %.1fs: %s",
                target.source,
                made.status if made is not None else "failed",
                done.seconds,
                "; ".join([
                    f"{made.pages} pages, {made.articles} articles, {made.errors} errors" if made else str(done.error),
                    *(f"{url} {feed_summary(states[url], now)}" for url in feeds if url in states),
                ]),
            )
        finally:
            with self._claims_lock:
                self._polling.discard(target.source)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by the first SIGTERM or SIGINT while the block runs; the old handlers back after."""
    stop = threading.Event()

    def on_signal(number: int, _frame: object) -> None:
        if not stop.is_set():
            logger.info("received %s", signal.Signals(number).name)
        stop.set()

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def serve(settings: Settings) -> None:
    """Run the daemon until SIGTERM or SIGINT; refuse if another daemon runs on the same database."""
    with stop_on_signals() as stop, Locks(settings.locks, ["daemon"], "scheduler daemon",
                                          what="a scheduler daemon already runs on this database: {holder}"):
        Daemon(settings).run(stop)
