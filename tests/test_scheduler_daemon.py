"""The real daemon: ``syndicrawl scheduler run`` in a subprocess against loopback feed servers,
with intervals of seconds. Polls adapt, failing feeds back off and recover, 304s save downloads,
lying ETags are caught, kill -9 loses nothing and duplicates nothing, SIGTERM exits 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.db import feedpolls
from archive.db.engine import Database, sqlite_url
from archive.db.models import Crawl, FeedPolling, Lease, ScheduleRun
from scheduler.schedules import open_schedules
from syndicrawl.settings import load_settings
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.warcs import read_warcs

SETTINGS = """\
[crawl]
download_delay = {delay}
autothrottle = false
download_timeout = {timeout}
[extract]
enabled = false
[scheduler]
poll_min_interval = 1.0
poll_max_interval = {max_interval}
poll_slower = {slower}
poll_jitter = 0.0
trust_after = 1
audit_every = 3
tick = 0.3
lock_ttl = 5.0
stop_timeout = 20.0
"""


@dataclass
class Archive:
    """A data directory, its settings file and database URL, and a sources file."""

    data: Path
    settings: Path
    sources: Path
    db_url: str

    @property
    def env(self) -> dict[str, str]:
        return {"SYNDICRAWL_DATABASE_URL": self.db_url}

    def syndicrawl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_syndicrawl(*args, data_dir=self.data, settings=self.settings, env=self.env, timeout=60)

    def schedule(self, source: str, every: str) -> None:
        result = self.syndicrawl("schedule", "add", source, "--every", every, "--config", str(self.sources))
        assert result.returncode == 0, result.stderr

    def state(self, source: str, url: str) -> FeedPolling | None:
        db = Database(self.db_url)
        try:
            with db.session() as s:
                return next((r.state for r in feedpolls.feed_statuses(s, source) if r.url == url), None)
        finally:
            db.dispose()

    def rows(self, model: type) -> list:  # type: ignore[type-arg]
        db = Database(self.db_url)
        try:
            with db.session() as s:
                return list(s.scalars(select(model).order_by(model.__mapper__.primary_key[0])))
        finally:
            db.dispose()


class Daemon:
    """``syndicrawl scheduler run`` as a subprocess, its log in a file the test reads."""

    def __init__(self, archive: Archive, log: Path) -> None:
        self.log_path = log
        self.data = archive.data
        self._log = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "syndicrawl", "scheduler", "run", "--data-dir", str(archive.data),
             "--settings", str(archive.settings)],
            stdout=subprocess.DEVNULL, stderr=self._log, env={**os.environ, **archive.env},
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, pattern: str, timeout: float = 40, count: int = 1) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = list(re.finditer(pattern, self.log))
            if len(found) >= count:
                return found[count - 1]
            assert self.process.poll() is None, f"daemon exited {self.process.returncode}:\n{self.log}"
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} (x{count}) in {timeout}s:\n{self.log}")

    def stop(self, number: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.process.send_signal(number)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            crawls = "".join(f"\n--- {p}:\n{p.read_text()}" for p in sorted(self.data.glob("logs/*.log")))
            raise AssertionError(f"the daemon did not stop in {timeout}s:\n{self.log}{crawls}") from None
        self._log.close()
        return code


def wait_until(condition: Callable[[], object], timeout: float = 40, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def make_archive(tmp_path: Path) -> Callable[..., Archive]:
    def make(sources: list[dict[str, object]], *, db_url: str | None = None, max_interval: float = 6.0,
             slower: float = 3.0, delay: float = 0.0, timeout: float = 3.0) -> Archive:
        settings = tmp_path / "settings.toml"
        settings.write_text(SETTINGS.format(max_interval=max_interval, slower=slower, delay=delay, timeout=timeout))
        data = tmp_path / "data"
        return Archive(data, settings, write_sources(tmp_path / "sources.toml", sources), db_url or sqlite_url(data))

    return make


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[[Archive], Daemon]]:
    """Start daemons; any still running at the end is killed, and so is every crawl left orphaned."""
    started: list[Daemon] = []

    def start(archive: Archive) -> Daemon:
        daemon = Daemon(archive, tmp_path / f"daemon-{len(started)}.log")
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def source(name: str, server, **fields: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"name": name, "kind": "origin", "feeds": [server.url("/feed.xml")], **fields}


def test_feeds_that_gain_entries_are_polled_faster_than_quiet_ones(make_archive, feed_server_factory, daemons):
    busy, quiet = feed_server_factory(), feed_server_factory()
    busy.site.grow = True
    # A poll is a crawl subprocess (seconds on a loaded machine): the quiet feed's interval must
    # be allowed to grow past that for the difference in polls to show.
    archive = make_archive([source("busy", busy), source("quiet", quiet)], max_interval=30.0)
    archive.schedule("busy", "1d")  # scheduled: its feeds are polled; the crawls themselves are a day away
    archive.schedule("quiet", "1d")
    daemon = daemons(archive)
    daemon.wait_for(r"poll quiet finished", count=2)
    daemon.wait_for(r"poll busy finished", count=5, timeout=90)
    assert daemon.stop() == 0
    busy_state, quiet_state = archive.state("busy", busy.url("/feed.xml")), archive.state("quiet", quiet.url("/feed.xml"))
    assert busy_state is not None and quiet_state is not None
    assert busy_state.interval == 1.0  # new entries every poll: the minimum
    # the first poll found the quiet feed's one entry (new: 1s); each later one found nothing: x3,
    # up to the maximum (30s here). How many polls fit before the stop depends on the machine.
    quiet_polls = daemon.log.count("poll quiet finished")
    assert quiet_polls >= 2
    assert quiet_state.interval == min(3.0 ** (quiet_polls - 1), 30.0)
    assert len(busy.site.feed_answers()) > len(quiet.site.feed_answers())
    # each poll fetched only the entries it had not seen: every post page exactly once
    posts = [a.path for a in busy.site.answers if a.path.startswith("/post/")]
    assert len(posts) == len(set(posts)) >= 3
    assert "poll busy started: 1 feed due" in daemon.log


def test_a_failing_feed_backs_off_honours_retry_after_and_recovers(make_archive, feed_server_factory, daemons):
    server = feed_server_factory()
    url = server.url("/feed.xml")
    server.site.failure = 503
    archive = make_archive([source("flaky", server)], max_interval=30.0)
    archive.schedule("flaky", "1d")
    daemon = daemons(archive)
    waits = []
    seen: set[datetime] = set()

    def failed_polls(count: int) -> bool:
        """Collect the wait decided after each failed poll (once the daemon has decided: a poll
        happens after its due time, so a decided next poll is later than the poll)."""
        state = archive.state("flaky", url)
        if state is not None and state.last_error_at and state.next_poll_at and state.last_error_at not in seen \
                and state.last_error_at == state.last_polled_at and state.next_poll_at > state.last_error_at:
            seen.add(state.last_error_at)
            waits.append((state.next_poll_at - state.last_error_at).total_seconds())
        return len(waits) >= count

    wait_until(lambda: failed_polls(2), what="two failed polls")
    assert waits == [2.0, 4.0]  # 1s interval x 2^(1, 2): http_5xx weighs 1
    state = archive.state("flaky", url)
    assert state is not None and state.consecutive_errors == 2 and state.last_error_kind == "http_5xx"
    assert state.last_error == "HTTP 503"
    with server.site.lock:
        server.site.retry_after = "9"
    wait_until(lambda: failed_polls(3), what="a poll answered with Retry-After")
    assert waits[2] == 9.0  # more than the back-off (8s): the server's Retry-After wins
    with server.site.lock:
        server.site.failure = None
    recovered = wait_until(
        lambda: (s := archive.state("flaky", url)) and s.consecutive_errors == 0 and s.error_score == 0 and s,
        what="recovery (the fetch recorded and decided on)",
    )
    assert recovered.last_success_at == recovered.last_new_entry_at  # type: ignore[union-attr]
    # polled again at the feed's own pace: the back-off is forgotten (1s interval, entries new: 1s)
    assert (recovered.next_poll_at - recovered.last_success_at).total_seconds() == 1.0  # type: ignore[union-attr]
    assert daemon.stop() == 0
    assert server.url("/post/1/") in {r.url for r in read_warcs(archive.data / "warcs")}


def test_a_304_saves_the_download_and_a_lying_etag_is_caught(make_archive, feed_server_factory, daemons):
    server = feed_server_factory()
    site, url = server.site, server.url("/feed.xml")
    archive = make_archive([source("harbour", server)], slower=1.0)
    archive.schedule("harbour", "1d")
    daemon = daemons(archive)
    # two whole fetches prove the ETag honest; then polls are conditional and a 304 saves the body
    wait_until(lambda: any(a.status == 304 and a.if_none_match for a in site.feed_answers()), what="a 304")
    state = archive.state("harbour", url)
    assert state is not None and state.trust == "trusted"
    site.lie()
    with site.lock:
        site.entries = 2  # a new entry; the server still answers 304 to the old ETag
    caught = wait_until(lambda: (s := archive.state("harbour", url)) and s.trust == "distrusted" and s,
                        what="distrust")
    answers = site.feed_answers()
    lies = [a for a in answers if a.status == 304 and a.if_none_match == site.frozen_etag]
    assert lies, "the lie was told at least once before an audit caught it"
    assert caught.conditional is False  # type: ignore[union-attr]
    count = len(answers)
    wait_until(lambda: len(site.feed_answers()) >= count + 2, what="two more polls")
    assert all(a.if_none_match is None for a in site.feed_answers()[count:])  # validators never sent again
    assert wait_until(lambda: any(a.path == "/post/2/" for a in site.answers), what="the new entry's page")
    assert daemon.stop() == 0
    records = [r for r in read_warcs(archive.data / "warcs") if r.url == url and r.type == "response"]
    assert any(r.http_headers.get_statuscode() == "304" for r in records)
    status = archive.syndicrawl("feeds", "status")
    assert re.search(rf"│ harbour +│ {re.escape(url)} +│.*│ distrusted +│", status.stdout), status.stdout


def test_kill_9_and_restart_loses_no_schedule_and_starts_no_duplicate_crawl(make_archive, feed_server_factory,
                                                                              daemons):
    server = feed_server_factory()
    with server.site.lock:
        server.site.entries = 3
    server.site.posts_open.clear()  # the orphaned crawl lasts until the restarted daemon has skipped its run
    # A sitemap, no feed: no poll fetches (and waits for) the posts before the crawl.
    slow = {"name": "slow", "kind": "origin", "sitemaps": [server.url("/sitemap.xml")], "recheck": []}
    archive = make_archive([slow], delay=1.0, timeout=120)
    archive.schedule("slow", "3s")
    first = daemons(archive)
    first.wait_for(r"crawl slow started")
    lease = wait_until(lambda: next((r for r in archive.rows(Lease) if r.holder == "crawl of slow"), None),
                       what="the crawl's lock")  # not a poll's: the crawl may wait for one to end
    orphan = lease.pid  # type: ignore[attr-defined]
    first.process.kill()
    first.process.wait()
    try:
        second = daemons(archive)
        second.wait_for(r"scheduler started: 1 schedules \(slow every 3s\)")
        second.wait_for(rf"crawl slow skipped: source 'slow' is being crawled: crawl of slow \(pid {orphan} ")
        server.site.posts_open.set()
        # On a loaded machine a crawl subprocess takes a while to start and to finish.
        wait_until(lambda: not _alive(orphan), timeout=120, what="the orphaned crawl to end")
        second.wait_for(r"crawl slow finished in [\d.]+s: \d+ pages", timeout=120)
        assert second.stop() == 0
    finally:
        server.site.posts_open.set()
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)
    crawls = [c for c in archive.rows(Crawl) if c.finished_at is not None]
    assert len(crawls) >= 2
    spans = sorted((c.started_at, c.finished_at) for c in crawls)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), spans  # never two at once
    assert any(r.status == "skipped" and "is being crawled" in (r.detail or "") for r in archive.rows(ScheduleRun))
    listed = archive.syndicrawl("schedule", "list")
    assert re.search(r"│ slow +│ every 3s +│ \d{4}-", listed.stdout), listed.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_sigterm_stops_running_crawls_gracefully_and_exits_0(make_archive, feed_server_factory, daemons):
    server = feed_server_factory()
    with server.site.lock:
        server.site.entries = 8
    archive = make_archive([source("slow", server)], delay=1.0)
    archive.schedule("slow", "2s")
    daemon = daemons(archive)
    daemon.wait_for(r"crawl slow started")
    wait_until(lambda: list((archive.data / "warcs").glob("*.open")), what="a crawl writing its WARC")
    assert daemon.stop(signal.SIGTERM) == 0
    assert "received SIGTERM" in daemon.log and daemon.log.rstrip().endswith("scheduler stopped")
    files = list((archive.data / "warcs").iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    [run] = archive.rows(ScheduleRun)
    crawls = {c.id: c.status for c in archive.rows(Crawl)}  # a feed poll may have run before the crawl
    assert run.status == "interrupted" and crawls[run.crawl_id] == "interrupted"
    assert "running" not in crawls.values()
    assert not archive.rows(Lease)  # the crawl and the daemon gave their locks back


def test_a_daemon_down_for_hours_runs_one_catch_up_crawl(make_archive, feed_server_factory, daemons, db_url):
    """On SQLite and PostgreSQL: the schedule is in the job store; three missed runs become one."""
    server = feed_server_factory()
    archive = make_archive([source("harbour", server)], db_url=db_url)
    archive.schedule("harbour", "1h")
    settings = load_settings(archive.settings, env=archive.env, overrides={"data_dir": archive.data})
    with open_schedules(settings) as schedules:  # as if the daemon had been down for three hours
        schedules.scheduler.modify_job("harbour", "schedules", next_run_time=datetime.now(UTC) - timedelta(hours=3))
    daemon = daemons(archive)
    daemon.wait_for(r"crawl harbour finished in [\d.]+s: \d+ pages")
    time.sleep(2)  # missed runs not coalesced would start right after the first
    assert daemon.stop() == 0
    assert daemon.log.count("crawl harbour started") == 1
    [run] = archive.rows(ScheduleRun)
    assert run.status == "finished" and run.crawl_id is not None
    listed = archive.syndicrawl("schedule", "list")
    assert re.search(r"│ harbour +│ every 1h +│ \S+ \S+ +│ \S+ \S+ +│ finished: \d+ pages, 0 articles, 0 errors",
                     listed.stdout), listed.stdout


def test_a_second_daemon_on_the_same_database_refuses_to_start(make_archive, feed_server_factory, daemons):
    server = feed_server_factory()
    archive = make_archive([source("harbour", server)])
    archive.schedule("harbour", "1d")
    first = daemons(archive)
    first.wait_for(r"scheduler started")
    second = archive.syndicrawl("scheduler", "run")
    assert second.returncode == 1
    assert re.fullmatch(
        rf"Error: a scheduler daemon already runs on this database: scheduler daemon \(pid {first.process.pid} "
        r"on \S+, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\n", second.stderr), second.stderr
    assert first.stop() == 0


def test_a_stop_during_a_tick_waits_for_it_and_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM while a tick runs (every 0.3 s here): the tick reads the schedules after the stop
    began, and the daemon still stops (APScheduler's shutdown held the lock the tick needs)."""
    from scheduler import service
    from scheduler.jobs import Children

    monkeypatch.setattr(service, "CHILDREN", Children())
    settings = load_settings(None, env={}, overrides={"data_dir": tmp_path / "data"})
    daemon = service.Daemon(settings)
    stop = threading.Event()
    in_tick, stopped_in_tick = threading.Event(), threading.Event()
    apply = daemon.apply

    def slow_apply() -> None:
        if not in_tick.is_set():
            in_tick.set()
            stop.wait()
            time.sleep(1.5)  # the main thread is in shutdown now
            stopped_in_tick.set()
        apply()

    monkeypatch.setattr(daemon, "apply", slow_apply)
    runner = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    runner.start()
    assert in_tick.wait(30)
    stop.set()
    runner.join(30)
    assert not runner.is_alive(), "the daemon hung stopping while a tick ran"
    assert stopped_in_tick.is_set()
