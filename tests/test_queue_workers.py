"""Crawl jobs on the Redis queue, run by ``syndicrawl worker`` processes on one PostgreSQL.

Sources on four loopback hosts (127.0.0.2-5), three sites (ports) on each: a host's delay must
hold whichever worker sends its requests, as the servers' request logs see it. A worker killed
with its crawls (``kill -9``, as when its machine dies) has its job run again by another.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Set
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive.db.engine import Database
from archive.db.locks import Locks
from archive.db.models import Capture, ScheduleRun
from scheduler import jobs
from syndicrawl.settings import load_settings
from syndicrawl.demo.base import Reply
from syndicrawl.demo.server import SiteServer
from tests.fixtures.cli import write_sources
from tests.fixtures.feedserver import FeedSite
from tests.fixtures.redis_server import RedisTarget
from tests.warcs import read_warcs

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DELAY = 0.5
HOSTS = [f"127.0.0.{n}" for n in range(2, 6)]


def _settings(path: Path, db_url: str, redis: RedisTarget, warc_storage: Path | None = None, *, extract: bool = False,
              **crawl: object) -> Path:
    extra = "".join(f"{key} = {value}\n" for key, value in crawl.items())
    shared = f'warc_storage = "{warc_storage}"\n' if warc_storage else ""
    path.write_text(
        f'[storage]\ndatabase_url = "{db_url}"\n{shared}'
        f"[crawl]\ndownload_delay = {DELAY}\nautothrottle = false\ndownload_timeout = 5\n{extra}"
        f"[extract]\nenabled = {str(extract).lower()}\nworkers = 1\n"
        f'[scheduler]\nlock_ttl = 6.0\nredis_prefix = "{redis.prefix}"\n'
        f'[queue]\nredis_url = "{redis.url}"\nheartbeat_timeout = 3.0\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def sites() -> Iterator[list[SiteServer[FeedSite]]]:
    """Three sites on each host, each a feed of three posts."""
    with ExitStack() as stack:
        servers = []
        for host in HOSTS:
            for _ in range(3):
                server = stack.enter_context(SiteServer(FeedSite, host=host))
                server.site.entries = 3
                servers.append(server)
        yield servers


def _descendants(pid: int) -> list[int]:
    """``pid``'s processes, children first found in /proc (the crawl runs in a session of its own)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


class Workers:
    """``syndicrawl worker`` processes, each with a data directory of its own; stopped after the test."""

    def __init__(self, tmp_path: Path, settings: Path) -> None:
        self.tmp_path, self.settings = tmp_path, settings
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, concurrency: int = 1, batch: int = 50) -> subprocess.Popen[bytes]:
        n = len(self.processes)
        log = (self.tmp_path / f"worker{n}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicrawl", "worker", "--concurrency", str(concurrency), "--batch", str(batch), "-v",
             "--settings", str(self.settings), "--data-dir", str(self.tmp_path / f"worker{n}")],
            stdout=log, stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(60)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("worker*.log")))


def _wait_runs(db: Database, count: int, workers: Workers, timeout: float, statuses: Set[str] = frozenset({"finished"}),
               sources: set[str] | None = None) -> list[ScheduleRun]:
    """The first ``count`` crawls (of ``sources``, or any) the workers ran to their end; each must
    have ended in one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as s:
            ended = [run for run in s.scalars(select(ScheduleRun).where(ScheduleRun.finished_at.is_not(None)))
                     if sources is None or run.source in sources]
        if len(ended) >= count:
            assert all(run.status in statuses for run in ended), [(r.source, r.status, r.detail) for r in ended]
            return list(ended)
        time.sleep(0.5)
    pytest.fail(f"{len(ended)} of {count} crawls ended in {timeout:.0f} s; workers said:\n{workers.logs()[-4000:]}")


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_url: str, redis_target: RedisTarget, sites: list[SiteServer[FeedSite]]
) -> Iterator[tuple[Workers, Database, Callable[[str], None], Path]]:
    settings = _settings(tmp_path / "cluster.toml", postgres_url, redis_target)
    config = write_sources(tmp_path / "sources.toml", [
        {"name": f"s{n}", "kind": "origin", "feeds": [server.url("/feed.xml")]} for n, server in enumerate(sites)
    ])
    workers = Workers(tmp_path, settings)
    db = Database(postgres_url)

    def enqueue(source: str) -> None:
        """What a schedule's job does in the daemon when [queue] names Redis."""
        jobs.crawl(source, str(config), str(tmp_path / "daemon"), str(settings))

    try:
        yield workers, db, enqueue, config
    finally:
        workers.stop()
        db.dispose()


def test_workers_share_each_hosts_delay(cluster, sites: list[SiteServer[FeedSite]]) -> None:  # type: ignore[no-untyped-def]
    workers, db, enqueue, _ = cluster
    for _ in range(3):  # each holding 4 jobs at most: the 12 spread over the three
        workers.start(concurrency=2, batch=2)
    for n in range(len(sites)):
        enqueue(f"s{n}")
    runs = _wait_runs(db, len(sites), workers, timeout=90)

    assert sorted(run.source for run in runs) == sorted(f"s{n}" for n in range(len(sites)))
    shown = subprocess.run([sys.executable, "-m", "syndicrawl", "status", "--json", "--settings", str(workers.settings),
                            "--data-dir", str(workers.tmp_path / "worker0")], capture_output=True, text=True, check=True)
    status = json.loads(shown.stdout)
    assert len(status["workers"]) == 3 and all(w["heartbeat_age"] < 3.0 for w in status["workers"])
    assert {name: (jobs["queued"], jobs["running"], jobs["failed"], jobs["last_run"])
            for name, jobs in status["sources"].items()} == {f"s{n}": (0, 0, 0, "finished") for n in range(len(sites))}
    for server in sites:  # every page fetched once
        paths = sorted(answer.path for answer in server.site.answers)
        assert paths == ["/feed.xml", "/post/1/", "/post/2/", "/post/3/", "/robots.txt"], server.base_url
    with db.session() as s:
        captured = s.execute(select(Capture.url, func.count()).group_by(Capture.url)).all()
    assert len(captured) == len(sites) * 5 and all(count == 1 for _, count in captured)

    ran_by = {source: n for n, log in enumerate(p.read_text() for p in sorted(workers.tmp_path.glob("worker*.log")))
              for line in log.splitlines() if " crawl " in line and line.rstrip().endswith(" started")
              for source in line.split(" crawl ")[1].removesuffix(" started").split(", ")}
    assert len(set(ran_by.values())) == 3, "every worker ran crawls"
    assert any(len({ran_by[f"s{3 * i + k}"] for k in range(3)}) > 1 for i in range(len(HOSTS))), \
        "some host was crawled by two workers"
    for index, host in enumerate(HOSTS):
        on_host = sites[3 * index : 3 * index + 3]
        seen = sorted((answer.at, server.base_url, answer.path) for server in on_host for answer in server.site.answers)
        times = [at for at, _, _ in seen]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        # Each wait is reserved in [0.5, 1.5] times the delay (Scrapy's jitter); a request then leaves
        # its busy crawl process up to ~0.1 s late on this shared machine, which brings it nearer
        # the next. Unshared, two workers' requests to one host came at the same moment.
        assert min(gaps) >= DELAY * 0.25, f"{host}: requests {min(gaps):.3f} s apart (delay {DELAY} s)"


def test_a_worker_crawls_the_jobs_it_holds_in_one_process(cluster, sites: list[SiteServer[FeedSite]]) -> None:  # type: ignore[no-untyped-def]
    """The crawl jobs a worker holds at once run as one crawl of their sources (one process start
    for them all), each recorded on its own; a source crawled elsewhere is skipped before the
    crawl starts and retried alone later, the others not held up by it."""
    workers, db, enqueue, _ = cluster
    elsewhere = load_settings(workers.settings, overrides={"data_dir": workers.tmp_path / "elsewhere"})
    with Locks(elsewhere.locks, ["crawl:s1"], "a crawl on another machine"):
        workers.start(concurrency=1, batch=50)
        for n in range(4):
            enqueue(f"s{n}")
        _wait_runs(db, 3, workers, timeout=60, statuses={"finished", "skipped"}, sources={"s0", "s2", "s3"})
    runs = _wait_runs(db, 5, workers, timeout=60, statuses={"finished", "skipped"})

    assert {(r.source, r.status) for r in runs} == {(f"s{n}", "finished") for n in range(4)} | {("s1", "skipped")}
    skipped = next(r for r in runs if r.status == "skipped")
    assert "being crawled: a crawl on another machine" in (skipped.detail or ""), skipped.detail
    started = [set(line.split(" crawl ")[1].removesuffix(" started").split(", ")) for line in workers.logs().splitlines()
               if " crawl " in line and line.endswith(" started")]
    assert started == [{"s0", "s2", "s3"}, {"s1"}], started
    for server in sites[:4]:  # every page fetched once
        assert sorted(a.path for a in server.site.answers if a.path != "/robots.txt") == [
            "/feed.xml", "/post/1/", "/post/2/", "/post/3/"], server.base_url


def test_killed_workers_job_runs_again(cluster, sites: list[SiteServer[FeedSite]]) -> None:  # type: ignore[no-untyped-def]
    workers, db, enqueue, _ = cluster
    slow = sites[0].site
    slow.entries = 12  # 12 posts at 0.4 s: time to kill its crawl halfway
    first = workers.start()
    enqueue("s0")
    deadline = time.monotonic() + 60
    while sum(a.path.startswith("/post/") for a in slow.answers) < 3:
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.1)
    for pid in [first.pid, *_descendants(first.pid)]:
        os.kill(pid, signal.SIGKILL)
    first.wait()
    fetched_before = sum(a.path.startswith("/post/") for a in slow.answers)
    workers.start()
    _wait_runs(db, 1, workers, timeout=90)

    posts = {f"/post/{n}/" for n in range(1, 13)}
    assert {a.path for a in slow.answers} >= posts, "no page lost"
    assert fetched_before < 12, "the kill came mid-crawl"
    with db.session() as s:
        full = s.execute(select(Capture.url, Capture.payload_digest).where(Capture.revisit_of.is_(None))).all()
        feeds = s.scalar(select(func.count()).where(Capture.url == sites[0].url("/feed.xml")))
    # As benchmarks/crash_campaign.py counts: a page fetched again by the re-run is a revisit
    # record; the same payload stored in full twice would be a duplicate.
    assert {url.removeprefix(sites[0].base_url) for url, _ in full} >= posts, "each post in the catalog"
    assert len(full) == len(set(full)), "none stored in full twice"
    assert feeds == 2, "the feed fetched by each run"
    # The killed worker's machine back: doctor closes the WARC file its crawl left open.
    repaired = subprocess.run([sys.executable, "-m", "syndicrawl", "doctor", "--settings", str(workers.settings),
                               "--data-dir", str(workers.tmp_path / "worker0")], capture_output=True, text=True)
    assert "left open by a crawl whose process is gone" in repaired.stdout, repaired.stdout + repaired.stderr
    responses = [r for n in range(2) for r in read_warcs(workers.tmp_path / f"worker{n}" / "warcs")
                 if r.type == "response"]
    assert {r.url.removeprefix(sites[0].base_url) for r in responses} >= posts, "every WARC readable"


_VOCABULARY = ("harbour tide ferry council market school bridge rail budget storm election museum river festival "
               "library hospital farm court vote energy mayor port timber wheat grain vessel crew dock pier "
               "canal lock warden schedule tariff subsidy deficit ledger audit quarry mill forge").split()


class WireSite(FeedSite):
    """Post N is wire story N, the same text on every site that carries it (as a news agency's
    subscribers post it), under the site's own name: copies across sites, distinct stories apart."""

    def _answer(self, path: str, headers: Mapping[str, str]) -> Reply:
        if not path.startswith("/post/"):
            return super()._answer(path, headers)
        number = int(path.strip("/").split("/")[-1])
        words = random.Random(number).choices(_VOCABULARY, k=240)
        paragraphs = "".join(f"<p>{' '.join(words[i : i + 60]).capitalize()}.</p>" for i in range(0, 240, 60))
        body = (f"<!DOCTYPE html>\n<html><head><title>Wire story {number}</title></head><body><article>"
                f"<h1>Wire story {number}</h1><p>Posted by {self.base} staff</p>{paragraphs}</article></body></html>\n")
        return Reply(200, (("Content-Type", "text/html; charset=utf-8"),), body.encode())


def _clusters(settings: Path, data: Path) -> set[frozenset[str]]:
    exported = subprocess.run([sys.executable, "-m", "syndicrawl", "clusters", "export", "--settings", str(settings),
                               "--data-dir", str(data)], capture_output=True, text=True, check=True).stdout
    members: dict[int, set[str]] = {}
    for row in map(json.loads, exported.splitlines()):
        members.setdefault(row["cluster_id"], set()).add(row["url"])
    return {frozenset(urls) for urls in members.values()}


def test_workers_storing_copies_at_once_find_the_clusters_one_process_finds(
    tmp_path: Path, postgres_url: str, redis_target: RedisTarget
) -> None:
    """Two workers store copies of one story at the same moment (#21.3): each story ends in one
    cluster, the clusters a one-process crawl of the same sites into SQLite finds."""
    with ExitStack() as stack:
        sites = [stack.enter_context(SiteServer(WireSite, host=host)) for host in HOSTS for _ in range(2)]
        for server in sites:
            server.site.entries = 3
        config = write_sources(tmp_path / "sources.toml", [
            {"name": f"s{n}", "kind": "unknown", "feeds": [server.url("/feed.xml")]} for n, server in enumerate(sites)
        ])
        settings = _settings(tmp_path / "cluster.toml", postgres_url, redis_target, extract=True)
        workers = Workers(tmp_path, settings)
        db = Database(postgres_url)
        try:
            workers.start(concurrency=2, batch=2)  # 4 jobs each at most: both workers store copies
            workers.start(concurrency=2, batch=2)
            for n in range(len(sites)):
                jobs.crawl(f"s{n}", str(config), str(tmp_path / "daemon"), str(settings))
            _wait_runs(db, len(sites), workers, timeout=180)
        finally:
            workers.stop()
            db.dispose()
        alone = tmp_path / "alone.toml"
        alone.write_text(f"[crawl]\ndownload_delay = {DELAY}\nautothrottle = false\n[extract]\nworkers = 1\n")
        crawled = subprocess.run([sys.executable, "-m", "syndicrawl", "crawl", "--config", str(config), "--settings",
                                  str(alone), "--data-dir", str(tmp_path / "alone")], capture_output=True, text=True)
        assert crawled.returncode == 0, crawled.stderr
    stories = {frozenset(server.url(f"/post/{n}/") for server in sites) for n in range(1, 4)}
    assert _clusters(alone, tmp_path / "alone") == stories
    assert _clusters(settings, tmp_path / "worker0") == stories
