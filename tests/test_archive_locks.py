"""Crawl locks on SQLite, PostgreSQL and Redis: one holder, renewed while held, lapsed or freed
when the holder dies; a manual crawl refuses a source that is being crawled; a crawl whose lock
cannot be renewed in time, or expired, stops (a second crawl of its source ran beside one for 67 s)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from archive.db.locks import LockHeld, Locks
from syndicrawl.settings import Settings, load_settings
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.redis_server import RedisTarget

HOLD = """
import sys, time
from pathlib import Path
from archive.db.locks import Locks
from syndicrawl.settings import load_settings
settings = load_settings(None, overrides={"data_dir": Path(sys.argv[1])})
with Locks(settings.locks, ["crawl:gazette"], "crawl of gazette"):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("redis", marks=pytest.mark.redis)])
def lock_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings whose locks live in SQLite, PostgreSQL or Redis; a short TTL."""
    settings = replace(load_settings(None, env={}, overrides={"data_dir": tmp_path / "data"}), lock_ttl=0.6)
    if request.param == "postgres":
        return replace(settings, database_url=request.getfixturevalue("postgres_url"))
    if request.param == "redis":
        target: RedisTarget = request.getfixturevalue("redis_target")
        return replace(settings, redis_url=target.url, redis_prefix=target.prefix)
    return settings


def test_one_holder_at_a_time_and_free_after_release(lock_settings: Settings) -> None:
    with Locks(lock_settings.locks, ["crawl:a", "crawl:b"], "crawl of a, b"):
        with pytest.raises(LockHeld) as held:
            with Locks(lock_settings.locks, ["crawl:b"], "poll of b", what="source '{name}' is busy: {holder}"):
                pass
        assert str(held.value).startswith("source 'b' is busy: crawl of a, b (pid ")
        with Locks(lock_settings.locks, ["crawl:c"], "crawl of c"):  # other names are free
            pass
    with Locks(lock_settings.locks, ["crawl:b"], "poll of b"):
        pass


def test_a_long_purpose_is_shortened_not_refused(lock_settings: Settings) -> None:
    """A crawl of many sources says so at length; the lease keeps its start (a queue worker's batch
    of 50 sources failed on PostgreSQL: 'value too long for type character varying(255)')."""
    purpose = "crawl of " + ", ".join(f"source-{n}" for n in range(50))
    with Locks(lock_settings.locks, ["crawl:a"], purpose):
        with pytest.raises(LockHeld) as held:
            with Locks(lock_settings.locks, ["crawl:a"], "poll of a"):
                pass
    assert f"is held by {purpose[:100]}" in str(held.value) and "..." in str(held.value)


def test_all_or_none(lock_settings: Settings) -> None:
    with Locks(lock_settings.locks, ["crawl:b"], "crawl of b"):
        with pytest.raises(LockHeld):
            with Locks(lock_settings.locks, ["crawl:a", "crawl:b"], "crawl of a, b"):
                pass
    with Locks(lock_settings.locks, ["crawl:a"], "crawl of a"):  # a was given back when b was refused
        pass


def test_a_held_lock_is_renewed_past_its_ttl(lock_settings: Settings) -> None:
    with Locks(lock_settings.locks, ["crawl:a"], "long crawl"):
        time.sleep(lock_settings.lock_ttl * 3)
        with pytest.raises(LockHeld):
            with Locks(lock_settings.locks, ["crawl:a"], "second crawl"):
                pass


def _hold_in_subprocess(settings: Settings) -> subprocess.Popen[str]:
    env = {"SYNDICRAWL_DATABASE_URL": settings.database_url, "SYNDICRAWL_REDIS_URL": settings.redis_url}
    settings_file = settings.data_dir.parent / "locks.toml"
    settings_file.write_text(f'[scheduler]\nlock_ttl = {settings.lock_ttl}\nredis_prefix = "{settings.redis_prefix}"\n')
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD.replace("load_settings(None", f"load_settings(Path({str(settings_file)!r})"),
         str(settings.data_dir)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **env},
    )
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    return process


def test_the_lock_of_a_killed_holder_on_this_host_is_free_at_once(lock_settings: Settings) -> None:
    lock_settings = replace(lock_settings, lock_ttl=60.0)  # it must not simply lapse
    process = _hold_in_subprocess(lock_settings)
    try:
        with pytest.raises(LockHeld, match=rf"crawl of gazette \(pid {process.pid} on "):
            with Locks(lock_settings.locks, ["crawl:gazette"], "crawl"):
                pass
    finally:
        process.kill()
        process.wait()
    with Locks(lock_settings.locks, ["crawl:gazette"], "crawl after kill -9"):
        pass


def test_a_manual_crawl_refuses_a_source_being_crawled(tmp_path: Path, wordpress_server, fast_settings: Path) -> None:
    data = tmp_path / "data"
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": "gazette", "kind": "repost", "feeds": [wordpress_server.url("/feed/")]}])
    settings = load_settings(None, env={}, overrides={"data_dir": data})
    holder = _hold_in_subprocess(settings)
    wordpress_server.clear_requests()
    try:
        result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=fast_settings)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 3
    assert result.stderr.startswith(f"Error: source 'gazette' is being crawled: crawl of gazette (pid {holder.pid} on ")
    assert result.stderr.count("\n") == 1
    assert wordpress_server.requests == []


def test_a_crawl_whose_database_is_unreachable_fetches_nothing(tmp_path: Path, wordpress_server, fast_settings: Path) -> None:
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": "gazette", "kind": "repost", "feeds": [wordpress_server.url("/feed/")]}])
    wordpress_server.clear_requests()
    result = run_syndicrawl(
        "crawl", "--config", str(sources), data_dir=tmp_path / "data", settings=fast_settings,
        env={"SYNDICRAWL_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("Error: the archive could not be opened: OperationalError: connection failed")
    assert result.stderr.count("\n") == 1, result.stderr
    assert wordpress_server.requests == []


def test_a_crawl_whose_archive_writer_dies_stops_and_says_so(tmp_path: Path, wordpress_server) -> None:
    """The writer holds the source's lock, so the lease names its pid; killed, the crawl must
    stop fetching (nothing it fetched could be stored) instead of going on or hanging."""
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": "gazette", "kind": "repost", "feeds": [wordpress_server.url("/feed/")], "backfill_pages": 3}])
    slow = tmp_path / "slow.toml"
    slow.write_text("[crawl]\ndownload_delay = 1.0\nautothrottle = false\n[extract]\nworkers = 1\n")
    data = tmp_path / "data"
    wordpress_server.clear_requests()
    command = [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--data-dir", str(data),
               "--settings", str(slow)]
    crawl = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        settings = load_settings(None, env={}, overrides={"data_dir": data})
        deadline = time.monotonic() + 60
        while (holder := _lease_pid(settings, "crawl:gazette")) is None:
            assert time.monotonic() < deadline and crawl.poll() is None, "the crawl never took its lock"
            time.sleep(0.1)
        assert holder != crawl.pid
        while len(wordpress_server.requests) < 3:  # mid-crawl
            assert time.monotonic() < deadline and crawl.poll() is None, "the crawl never got going"
            time.sleep(0.05)
        os.kill(holder, signal.SIGKILL)
        fetched = len(wordpress_server.requests)
        _, err = crawl.communicate(timeout=60)
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.wait()
    assert crawl.returncode not in (0, None)
    assert err.splitlines()[-1] == "Error: the archive writer process failed (exit code -9)", err
    # A whole crawl is 16 requests, 12 after the kill. Scrapy's graceful stop still finishes
    # what its engine holds (5 here, one a second); a crawl that went on would fetch all 12.
    after = len(wordpress_server.requests) - fetched
    assert after <= 8, f"the crawl went on fetching after its writer died ({after} more requests)"


def _lease_pid(settings: Settings, name: str) -> int | None:
    from archive.db.engine import Database
    from archive.db.models import Lease

    with Database(settings.db_url) as database, database.session() as s:
        lease = s.get(Lease, name)
        return None if lease is None else lease.pid


def test_a_lock_not_renewed_within_its_ttl_is_given_up_and_can_be_taken(tmp_path: Path) -> None:
    """SQLite's write lock held by another process longer than the TTL: no renewal can be
    written, so the holder gives the lock up (on_lost) before it lapses, and another takes it after."""
    settings = replace(load_settings(None, env={}, overrides={"data_dir": tmp_path / "data"}), lock_ttl=1.5)
    lost: list[tuple[float, str]] = []
    with Locks(settings.locks, ["crawl:gazette"], "crawl of gazette", on_lost=lambda m: lost.append((time.monotonic(), m))):
        taken = time.monotonic()
        with closing(sqlite3.connect(settings.data_dir / "syndicrawl.sqlite3", isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # a backup, an analyst's long write
            time.sleep(settings.lock_ttl * 2)
            other.execute("ROLLBACK")
        assert len(lost) == 1, lost
        [(when, message)] = lost
        assert when - taken < settings.lock_ttl, "given up only after the lock could lapse"
        assert message.startswith("lock crawl:gazette not renewed for 1 s (lock_ttl 1.5 s; last error: crawl:gazette: "
                                  "database is locked): given up before another process may take it"), message
        with Locks(settings.locks, ["crawl:gazette"], "second crawl"):  # lapsed: free for another
            pass


def test_a_renewal_is_not_starved_by_its_own_process_writing_without_pause(tmp_path: Path) -> None:
    """A crawl's writer commits and begins its next transaction at once, batch after batch;
    SQLite's busy handler, sleeping between tries, never got the lock for the renewal between two."""
    from archive.db.engine import Database

    settings = replace(load_settings(None, env={}, overrides={"data_dir": tmp_path / "data"}), lock_ttl=1.5)
    lost: list[str] = []
    stop = threading.Event()
    with Database(settings.db_url) as database:
        def write_without_pause() -> None:
            while not stop.is_set():
                with database.writing() as s:
                    s.execute(text("CREATE TABLE IF NOT EXISTS busy (n INTEGER)"))
                    s.execute(text("INSERT INTO busy VALUES (1)"))
                    time.sleep(0.05)  # a batch of WARC records and rows

        writer = threading.Thread(target=write_without_pause)
        with Locks(settings.locks, ["crawl:gazette"], "crawl of gazette", on_lost=lost.append):
            writer.start()
            try:
                time.sleep(settings.lock_ttl * 3)
            finally:
                stop.set()
                writer.join()
            # still held after three TTLs of writing (asked once the writing stopped: a second
            # crawl's own attempt would meet the same busy database, and SQLite may time it out)
            with pytest.raises(LockHeld):
                with Locks(settings.locks, ["crawl:gazette"], "second crawl"):
                    pass
    assert lost == []


def test_a_renewal_waits_out_a_long_transaction_of_its_own_process(tmp_path: Path) -> None:
    """A crawl's writer matched a batch of near-copies for 40 s in one transaction; no other
    process can take a lease meanwhile (that is a write too), so the holder must not give it up."""
    from archive.db.engine import Database

    settings = replace(load_settings(None, env={}, overrides={"data_dir": tmp_path / "data"}), lock_ttl=1.5)
    lost: list[str] = []
    with Database(settings.db_url) as database:
        def long_write() -> None:
            with database.writing() as s:
                s.execute(text("CREATE TABLE busy (n INTEGER)"))
                time.sleep(settings.lock_ttl * 2.5)

        with Locks(settings.locks, ["crawl:gazette"], "crawl of gazette", on_lost=lost.append):
            writer = threading.Thread(target=long_write)
            writer.start()
            writer.join()
            time.sleep(settings.lock_ttl / 2)
            with pytest.raises(LockHeld):
                with Locks(settings.locks, ["crawl:gazette"], "second crawl"):
                    pass
    assert lost == []


@pytest.mark.redis
def test_a_redis_lock_that_expired_is_given_up_at_once(redis_target: RedisTarget, tmp_path: Path) -> None:
    import redis

    settings = replace(load_settings(None, env={}, overrides={"data_dir": tmp_path / "data"}), lock_ttl=3.0,
                       redis_url=redis_target.url, redis_prefix=redis_target.prefix)  # fmt: skip
    lost: list[str] = []
    with Locks(settings.locks, ["crawl:gazette"], "crawl of gazette", on_lost=lost.append):
        with closing(redis.Redis.from_url(redis_target.url)) as client:
            client.delete(f"{redis_target.prefix}lock:crawl:gazette")  # expired while the holder was paused
        deadline = time.monotonic() + settings.lock_ttl
        while not lost and time.monotonic() < deadline:
            time.sleep(0.05)
    assert lost == ["lock crawl:gazette was lost: it lapsed and another process took it"]


LAPSE_SETTINGS = """\
[crawl]
download_delay = 0.5
autothrottle = false
download_timeout = 3
[extract]
workers = 1
[scheduler]
lock_ttl = {ttl}
redis_prefix = "{prefix}"
"""


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_crawl_that_loses_its_lock_stops_and_the_next_takes_over(
    tmp_path: Path, wordpress_server, backend: str, request: pytest.FixtureRequest
) -> None:
    """The crawl's lock cannot be renewed (SQLite's write lock held elsewhere past the TTL) or
    its Redis key expired: the crawl stops within seconds with exit code 7 and one line, instead
    of crawling on beside a second crawl; the next crawl repairs what it left and finishes."""
    ttl = 1.5
    env, prefix = {}, ""
    if backend == "redis":
        target: RedisTarget = request.getfixturevalue("redis_target")
        env, prefix = {"SYNDICRAWL_REDIS_URL": target.url}, target.prefix
    slow = tmp_path / "slow.toml"
    slow.write_text(LAPSE_SETTINGS.format(ttl=ttl, prefix=prefix))
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": "gazette", "kind": "repost", "feeds": [wordpress_server.url("/feed/")], "backfill_pages": 3}])
    data = tmp_path / "data"
    db_file = data / "syndicrawl.sqlite3"
    crawl = subprocess.Popen(
        [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--data-dir", str(data),
         "--settings", str(slow)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list((data / "warcs").glob("*.open")):  # fetching and writing
            assert time.monotonic() < deadline and crawl.poll() is None, "the crawl never got going"
            time.sleep(0.05)
        cut = time.monotonic()
        if backend == "redis":
            import redis

            with closing(redis.Redis.from_url(target.url)) as client:
                client.delete(f"{prefix}lock:crawl:gazette")
            _, err = crawl.communicate(timeout=60)
        else:
            with closing(sqlite3.connect(db_file, timeout=30, isolation_level=None)) as other:
                other.execute("BEGIN IMMEDIATE")
                while crawl.poll() is None and time.monotonic() < cut + 30:
                    time.sleep(0.05)
                other.execute("ROLLBACK")
            _, err = crawl.communicate(timeout=60)
        stopped = time.monotonic() - cut
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.wait()
    assert crawl.returncode == 7, err
    last = err.splitlines()[-1]
    if backend == "redis":
        assert last == "Error: lock crawl:gazette was lost: it lapsed and another process took it; the crawl stopped", err
    else:
        assert last.startswith("Error: lock crawl:gazette not renewed for 1 s (lock_ttl 1.5 s; last error: "), err
        assert last.endswith(": given up before another process may take it; the crawl stopped"), err
    assert "Traceback" not in err, err
    assert stopped < 15, f"the crawl went on for {stopped:.1f} s after its lock could no longer be renewed"

    again = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=slow, env=env)
    assert again.returncode == 0, again.stderr
    assert "left open by a crawl whose process is gone" in again.stderr, again.stderr
    assert not list((data / "warcs").glob("*.open"))
    with closing(sqlite3.connect(db_file)) as db:
        assert db.execute("SELECT status FROM crawls ORDER BY id").fetchall() == [("interrupted",), ("finished",)]
