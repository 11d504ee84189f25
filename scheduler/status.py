"""What a cluster of workers is doing, read from Redis and the database (``syndicrawl status``).

Read-only: Dramatiq's own keys (``scheduler.queue``: a list of message ids per queue, a set of
fetched, unacknowledged ids per worker and queue, a sorted set of dead-lettered ones, worker
heartbeats), the workers' registrations, the per-host request counters of ``crawler.politeness``,
and each source's latest crawl run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.db import runs
from archive.db.engine import Database
from crawler.politeness import sent_key
from scheduler.queue import CRAWLS, POLLS

if TYPE_CHECKING:
    import redis

    from syndicrawl.settings import Settings


@dataclass(frozen=True)
class Worker:
    name: str
    concurrency: int
    since: str
    heartbeat_age: float | None  # seconds since its last heartbeat; None if it never sent one


@dataclass
class SourceJobs:
    queued: int = 0
    running: int = 0  # fetched by a worker and not acknowledged: running, waiting to run or to retry
    failed: int = 0  # dead-lettered: retried RETRIES times, or failed outright
    last_run: str = ""


@dataclass
class Status:
    workers: list[Worker] = field(default_factory=list)
    sources: dict[str, SourceJobs] = field(default_factory=dict)
    host_rates: dict[str, int] = field(default_factory=dict)  # requests granted in the last full minute
    warc_files: int = 0
    warc_bytes: int = 0


def _sources(client: redis.Redis, namespace: str, key: str, ids: list[bytes]) -> Counter[str]:
    """The sources of the messages ``ids`` whose data is in hash ``key``."""
    found: Counter[str] = Counter()
    if ids:
        for data in client.hmget(key, ids):
            if data is not None:
                found[json.loads(data)["args"][0]] += 1
    return found


def _jobs(client: redis.Redis, namespace: str) -> dict[str, SourceJobs]:
    jobs: dict[str, SourceJobs] = {}

    def add(counts: Counter[str], attribute: str) -> None:
        for source, n in counts.items():
            entry = jobs.setdefault(source, SourceJobs())
            setattr(entry, attribute, getattr(entry, attribute) + n)

    for queue in (CRAWLS, POLLS, f"{CRAWLS}.DQ", f"{POLLS}.DQ"):
        name = f"{namespace}:{queue}"
        add(_sources(client, namespace, f"{name}.msgs", client.lrange(name, 0, -1)), "queued")
        held = [i for key in client.scan_iter(match=f"{namespace}:__acks__.*.{queue}") for i in client.smembers(key)]
        add(_sources(client, namespace, f"{name}.msgs", held), "running")
        add(_sources(client, namespace, f"{name}.XQ.msgs", client.zrange(f"{name}.XQ", 0, -1)), "failed")
    return jobs


def read_status(settings: Settings) -> Status:
    """The cluster as Redis and the database see it now."""
    import redis

    client = redis.Redis.from_url(settings.queue_redis_url, socket_timeout=10)
    namespace = f"{settings.redis_prefix}queue"
    try:
        now_ms = time.time() * 1000
        beats = {k.decode(): v for k, v in client.zrange(f"{namespace}:__heartbeats__", 0, -1, withscores=True)}
        status = Status()
        for broker_id, raw in client.hgetall(f"{settings.redis_prefix}workers").items():
            info = json.loads(raw)
            beat = beats.get(broker_id.decode())
            status.workers.append(Worker(f"{info['host']}-{info['pid']}", info["concurrency"], info["since"],
                                         None if beat is None else (now_ms - beat) / 1000))
        status.sources = _jobs(client, namespace)
        minute = int(time.time() // 60) - 1
        before_host = len(sent_key(settings.redis_prefix, "")) - 1  # the key's start up to its host
        for key in client.scan_iter(match=f"{sent_key(settings.redis_prefix, '*')}{minute}"):
            status.host_rates[key.decode()[before_host:].rpartition(":")[0]] = int(client.get(key) or 0)
    finally:
        client.close()
    database = Database(settings.db_url, read_only=True)
    try:
        with database.session() as s:
            for source, (run, _) in runs.latest_runs(s).items():
                status.sources.setdefault(source, SourceJobs()).last_run = run.status
    finally:
        database.dispose()
    files = settings.warcs.sizes()
    status.warc_files, status.warc_bytes = len(files), sum(files.values())
    return status
