"""Crawl and poll jobs on a Dramatiq queue in Redis (``[queue] redis_url``): the daemon enqueues
them, ``syndicrawl worker`` processes on any machine run them (README: "Running on several machines").

Dramatiq's Redis broker gives what a crawl job needs: a message is acknowledged only once its job
has ended (at-least-once); a worker that stops sending heartbeats for ``heartbeat_timeout`` (killed,
its machine gone) has every message it held put back on the queue, to be run by another; polls
(short, due at a time) go on a queue of their own, consumed before crawls. A job may thus run
twice: the crawl lock of its source (``archive.db.locks``) keeps two runs from crawling side by
side, and a crawl refused by that lock is retried later (the lock of a crawl killed with its
worker lapses after ``lock_ttl``), not dropped. The jobs themselves are those the daemon runs
without a queue (``scheduler.jobs``), each a ``syndicrawl crawl`` subprocess of the worker; the
crawl jobs a worker holds at once share one (``scheduler.batches``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries

from scheduler.batches import Batches
from scheduler.jobs import CHILDREN, run_crawl, run_poll
from scheduler.schedules import CrawlTarget
from syndicrawl import exitcodes
from syndicrawl.settings import WORKER_ID_ENV, Settings

logger = logging.getLogger(__name__)

CRAWLS, POLLS = "crawls", "polls"
#: In a million broker commands, how many also put back the messages of dead workers. Dramatiq's
#: 1,000 left a killed worker's job waiting for minutes on a quiet cluster; the check is one
#: sorted-set read per queue.
MAINTENANCE_CHANCE = 100_000
#: Retries of a job refused by its source's lock or stopped with its worker, the first after a
#: third of ``lock_ttl``, then twice as long each time up to twice ``lock_ttl``.
RETRIES = 6


class SourceLocked(Exception):
    """The job's source is being crawled elsewhere (or by a killed worker's crawl, until its lock lapses)."""


class Stopping(Exception):
    """This worker is stopping: the job did not run, or was stopped halfway; another worker runs it."""


def _retried(retries: int, exc: BaseException) -> bool:
    """Only a locked source or a stopping worker is retried: a crawl's own failures are recorded, not re-run."""
    return isinstance(exc, SourceLocked | Stopping) and retries < RETRIES


def broker(settings: Settings) -> RedisBroker:
    """The broker of ``settings``: its keys under ``[scheduler] redis_prefix`` + ``queue``."""
    backoff = int(settings.lock_ttl * 1000)
    return RedisBroker(
        url=settings.queue_redis_url,
        namespace=f"{settings.redis_prefix}queue",
        heartbeat_timeout=int(settings.queue_heartbeat_timeout * 1000),
        maintenance_chance=MAINTENANCE_CHANCE,
        middleware=[Retries(max_retries=RETRIES, min_backoff=backoff // 3, max_backoff=backoff * 2, retry_when=_retried)],
    )


#: The settings of this worker process (``serve``): each machine has its own data directory and
#: settings file; only the database, Redis and the WARC storage are shared.
_settings: Settings | None = None
#: This worker's crawl batches (``serve``).
_batches: Batches | None = None


def _target(source: str, config_file: str) -> tuple[CrawlTarget, Settings]:
    if _settings is None:
        raise RuntimeError("a queued job runs only in a worker (syndicrawl worker)")
    file = str(_settings.settings_file) if _settings.settings_file else None
    return CrawlTarget(source, config_file, str(_settings.data_dir), file), _settings


def crawl_job(source: str, config_file: str) -> None:
    """Crawl ``source`` with this worker's settings, in a batch with the other crawl jobs it holds;
    raise ``SourceLocked`` or ``Stopping`` to be retried."""
    target, _ = _target(source, config_file)
    assert _batches is not None
    ran = _batches.crawl(target)
    if ran.stopped:
        raise Stopping(source)
    if ran.locked:
        raise SourceLocked(ran.detail or source)


def poll_job(source: str, config_file: str, feeds: list[str], pages: list[str] | None = None) -> None:
    """Poll ``feeds`` of ``source`` and recheck its article ``pages``; the daemon applies the fetches
    it records to their polling state. (A message queued before rechecks existed has no ``pages``.)"""
    target, settings = _target(source, config_file)
    assert _batches is not None
    with _batches.slot():
        ran = run_poll(target, settings, feeds, pages or ())
    if ran is None or (CHILDREN.closed and ran[0].returncode != 0):
        raise Stopping(source)
    if ran[0].returncode != exitcodes.LOCKED:
        done, made = ran
        logger.info("poll %s %s in %.1fs", source, made.status if made is not None else "failed", done.seconds)


def declare(target: RedisBroker) -> dict[str, dramatiq.Actor]:  # type: ignore[type-arg]
    """The two actors on ``target``: polls first (lower priority number) when a worker holds both."""
    return {
        CRAWLS: dramatiq.Actor(crawl_job, actor_name="crawl", queue_name=CRAWLS, priority=10, broker=target, options={}),
        POLLS: dramatiq.Actor(poll_job, actor_name="poll", queue_name=POLLS, priority=0, broker=target, options={}),
    }


def _send(settings: Settings, queue: str, *args: object) -> None:
    target = broker(settings)
    try:
        declare(target)[queue].send(*args)
    finally:
        target.close()


def enqueue_crawl(settings: Settings, target: CrawlTarget) -> None:
    """Queue a crawl of ``target.source``; a worker runs it with its own data directory and settings."""
    _send(settings, CRAWLS, target.source, target.config_file)
    logger.info("crawl %s queued", target.source)


def enqueue_poll(settings: Settings, target: CrawlTarget, feeds: Sequence[str], pages: Sequence[str] = ()) -> None:
    _send(settings, POLLS, target.source, target.config_file, list(feeds), list(pages))


def worker_id() -> str:
    """``HOST-PID``, this worker's name in its log, and the end of its crawls' WARC file names: unique
    among the workers writing into one shared directory (a host name's other characters become ``-``)."""
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname()).strip("-._")[:50]
    return f"{host}-{os.getpid()}" if host else str(os.getpid())


def serve(settings: Settings, concurrency: int, stop: threading.Event, batch: int = 1) -> None:
    """Run queued jobs in ``concurrency`` crawl processes at a time, each crawling the sources of up to
    ``batch`` jobs, until ``stop`` is set; then let running jobs end (a crawl gets SIGINT, Scrapy's
    graceful stop, after ``stop_timeout``) and put back those not begun."""
    global _settings, _batches
    _settings = settings
    _batches = Batches(concurrency, batch, lambda targets: run_crawl(targets, settings))
    name = worker_id()
    # Inherited by the crawl subprocesses this worker starts ([queue] worker_id): this process does nothing else.
    os.environ[WORKER_ID_ENV] = name
    target = broker(settings)
    declare(target)
    # A thread a job held: the jobs of a batch wait in theirs while its crawl runs.
    worker = dramatiq.Worker(target, worker_threads=concurrency * batch)
    # Dramatiq prefetches twice its threads: jobs held here would wait while another worker idles.
    worker.queue_prefetch = concurrency * batch
    workers = f"{settings.redis_prefix}workers"
    target.client.hset(workers, target.broker_id, json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "concurrency": concurrency, "batch": batch,
         "since": datetime.now(UTC).isoformat(timespec="seconds")}))
    worker.start()
    logger.info("worker %s started: %d at a time", name, concurrency)
    try:
        while not stop.wait(1.0):
            pass
        logger.info("stopping: no new jobs; running ones are asked to stop and will run again elsewhere")
    finally:
        # Dramatiq's stop first stops its threads taking jobs, then waits for them: meanwhile the
        # crawls are stopped, and their jobs retried (``Stopping``).
        stopping = threading.Thread(target=worker.stop, kwargs={"timeout": int((settings.stop_timeout + 30) * 1000)})
        stopping.start()
        CHILDREN.stop(settings.stop_timeout)
        stopping.join()
        target.client.hdel(workers, target.broker_id)
        target.close()
        logger.info("worker stopped")
