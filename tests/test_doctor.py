"""``archive.doctor`` on hand-made crash leftovers: an ``.open`` WARC cut mid-gzip-member, with the
records of a batch whose rows were never committed; a file with nothing whole; a live crawl's
file; a dead process's lease and a daemon's run left running; records without rows in the middle
of a finished file; rows naming a file that is gone; a dead process's Redis lock key."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from archive.db.engine import Database
from archive.db.leases import acquire
from archive.db.locks import Holder, LockConfig, Locks
from archive.db.models import Capture, Crawl, Lease, ScheduleRun
from archive.db.runs import start_run
from archive.doctor import doctor, quarantine_dir
from archive.ingest.importer import Importer
from archive.ingest.messages import Fetched
from archive.ingest.store import CaptureStore
from archive.warc import cdxj
from archive.warc.records import read_record, verify_file
from tests.fixtures.redis_server import RedisTarget
from tests.test_archive_warc import exchange


def story(n: int) -> Fetched:
    body = f"<html><body><p>Story {n}: {'harbour news ' * 40}</p></body></html>".encode()
    return Fetched(replace(exchange(), url=f"http://news.example/story?id={n}", body=body,
                           fetched_at=exchange().fetched_at + timedelta(seconds=n)), metadata={"source": "gazette"})  # fmt: skip


def crashed_crawl(database: Database, warc_dir: Path) -> tuple[Path, int]:
    """A writer killed as it wrote: 4 catalogued captures, 2 written whose rows were never
    committed, and a third record cut in the middle of its gzip member. Returns the ``.open``
    file and the offset where the whole, catalogued records end."""
    store = CaptureStore(database, warc_dir, "gazette", "repost", max_size=10_000_000, software="test")
    store.store_exchanges([story(n) for n in range(4)])
    [path] = warc_dir.glob("*.warc.gz.open")
    catalogued_end = path.stat().st_size
    for n in (4, 5):  # the batch being committed: records, no rows
        store.warc.write_exchange(story(n).exchange)
    before_last = path.stat().st_size
    store.warc.write_exchange(story(6).exchange)
    with path.open("r+b") as fh:
        fh.truncate(before_last + (path.stat().st_size - before_last) // 3)  # cut inside a gzip member
    return path, catalogued_end


def rows(database: Database) -> list[tuple[str, int, int]]:
    with database.session() as s:
        return list(s.execute(select(Capture.warc_file, Capture.warc_offset, Capture.warc_length)))


def test_a_file_cut_mid_record_is_cut_to_its_catalogued_whole_records(database: Database, db_url: str, tmp_path: Path) -> None:
    warcs, indexes = tmp_path / "warcs", tmp_path / "indexes"
    path, catalogued_end = crashed_crawl(database, warcs)
    locks = LockConfig(db_url, ttl=60)
    original = path.read_bytes()

    looked = doctor(database, warcs, indexes, locks, dry_run=True)
    lines = [finding.line(dry_run=True) for finding in looked.findings]
    assert len(lines) == 2 and not looked.healthy, lines
    assert lines[0].startswith(f"{path.name}: left open by a crawl whose process is gone: 17 whole records, "
                               "the last 4 not in the catalog, then a damaged record at byte "), lines  # fmt: skip
    assert f"would be cut at byte {catalogued_end} (" in lines[0] and "renamed to " in lines[0], lines
    assert lines[1] == "crawl 1 of gazette: still 'running', but no process crawls it; would be marked interrupted (4 pages stored)"
    assert path.read_bytes() == original and not quarantine_dir(warcs).exists() and not indexes.exists()
    with database.session() as s:
        assert s.scalars(select(Crawl.status)).all() == ["running"]

    repaired = doctor(database, warcs, indexes, locks, dry_run=False)
    assert repaired.healthy and all(finding.repaired for finding in repaired.findings)
    [finished] = warcs.iterdir()
    assert finished.name == path.name.removesuffix(".open")
    assert finished.read_bytes() == original[:catalogued_end]
    assert verify_file(finished) == 1 + 4 * 3  # warcinfo; response, request, metadata each
    [cut] = quarantine_dir(warcs).iterdir()
    assert cut.read_bytes() == original[catalogued_end:]
    captures = rows(database)
    assert len(captures) == 4
    for warc_file, offset, length in captures:
        assert warc_file == finished.name
        with read_record(finished, offset, length) as record:
            assert record.rec_type == "response"
    assert (indexes / cdxj.index_name(finished.name)).read_text().count("\n") == 4
    with database.session() as s:
        assert s.execute(select(Crawl.status, Crawl.pages)).all() == [("interrupted", 4)]
    assert doctor(database, warcs, indexes, locks, dry_run=False).findings == []


def test_a_file_with_nothing_whole_goes_to_quarantine(database: Database, db_url: str, tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    path, _ = crashed_crawl(database, warcs)
    with path.open("r+b") as fh:
        fh.truncate(100)  # inside the warcinfo record
    report = doctor(database, warcs, tmp_path / "indexes", LockConfig(db_url, ttl=60), dry_run=False)
    line = report.findings[0].line(dry_run=False)
    assert line.endswith("moved to quarantine/ (no whole record but its warcinfo); 4 capture rows removed"), line
    assert list(warcs.iterdir()) == [] and [p.name for p in quarantine_dir(warcs).iterdir()] == [path.name]
    assert rows(database) == []


def test_the_file_of_a_live_crawl_is_left_alone(database: Database, db_url: str, tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    path, _ = crashed_crawl(database, warcs)
    original = path.read_bytes()
    locks = LockConfig(db_url, ttl=60)
    with Locks(locks, ["crawl:gazette"], "crawl of gazette"):  # this process: alive
        report = doctor(database, warcs, tmp_path / "indexes", locks, dry_run=False)
    assert report.findings == [] and report.healthy
    [busy] = report.busy
    assert busy.startswith("gazette: being crawled by crawl of gazette (pid ") and busy.endswith("; left alone")
    assert path.read_bytes() == original


def test_a_dead_process_lease_and_a_dead_daemon_run_are_released(database: Database, db_url: str, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)  # fmt: skip
    now = datetime.now(UTC)
    with database.writing() as s:
        acquire(s, "daemon", token="t", holder="scheduler daemon", pid=int(dead.stdout), host=socket.gethostname(),
                now=now, expires_at=now + timedelta(minutes=5))  # fmt: skip
        start_run(s, "gazette", now)
    locks = LockConfig(db_url, ttl=60)
    looked = doctor(database, tmp_path / "warcs", tmp_path / "indexes", locks, dry_run=True)
    assert [f.subject for f in looked.findings] == ["lease daemon", "scheduled run 1 of gazette"]
    report = doctor(database, tmp_path / "warcs", tmp_path / "indexes", locks, dry_run=False)
    assert [f.line(dry_run=False) for f in report.findings][1] == (
        "scheduled run 1 of gazette: still 'running', but no scheduler daemon runs; marked interrupted")
    assert report.findings[0].line(dry_run=False).endswith(", whose process is gone; released")
    with database.session() as s:
        assert s.scalars(select(Lease)).all() == []
        assert s.scalars(select(ScheduleRun.status)).all() == ["interrupted"]


def finished_crawl(database: Database, warc_dir: Path, stories: range, *, orphans: range = range(0)) -> Path:
    """A crawl that ended well: ``stories`` catalogued; ``orphans`` written in the middle of the file
    with no rows (their transaction failed after the records were written)."""
    store = CaptureStore(database, warc_dir, "gazette", "repost", max_size=10_000_000, software="test")
    half = len(stories) // 2
    store.store_exchanges([story(n) for n in stories[:half]])
    for n in orphans:
        store.warc.write_exchange(story(n).exchange)
    store.store_exchanges([story(n) for n in stories[half:]])
    [path] = store.finish("finished", {})
    return path


def importer(database: Database, tmp_path: Path) -> Importer:
    return Importer(database, tmp_path / "warcs", tmp_path / "indexes", extractor=None, max_bytes=1_000_000,
                    software="test", warc_max_size=10_000_000)  # fmt: skip


def test_records_without_rows_in_the_middle_of_a_file_are_catalogued(database: Database, db_url: str, tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    path = finished_crawl(database, warcs, range(4), orphans=range(10, 12))
    locks = LockConfig(db_url, ttl=60)
    recatalog = importer(database, tmp_path)
    looked = doctor(database, warcs, tmp_path / "indexes", locks, dry_run=True,
                    recatalog=lambda p: recatalog.import_file(p).captures)  # fmt: skip
    assert [f.line(dry_run=True) for f in looked.findings] == [
        f"{path.name}: 2 whole response or revisit records have no capture row; would be catalogued (2 capture rows added)"]
    assert len(rows(database)) == 4

    report = doctor(database, warcs, tmp_path / "indexes", locks, dry_run=False,
                    recatalog=lambda p: recatalog.import_file(p).captures)  # fmt: skip
    assert report.healthy and [f.repaired for f in report.findings] == [True]
    with database.session() as s:
        urls = s.scalars(select(Capture.url).where(Capture.warc_file == path.name)).all()
    assert sorted(urls) == sorted(f"http://news.example/story?id={n}" for n in [0, 1, 2, 3, 10, 11])
    for warc_file, offset, length in rows(database):
        with read_record(warcs / warc_file, offset, length) as record:
            assert record.rec_type == "response"
    assert doctor(database, warcs, tmp_path / "indexes", locks, dry_run=False,
                  recatalog=lambda p: recatalog.import_file(p).captures).findings == []  # fmt: skip


def test_rows_of_a_missing_file_are_reported_and_removed_only_on_request(database: Database, db_url: str, tmp_path: Path) -> None:
    warcs, indexes = tmp_path / "warcs", tmp_path / "indexes"
    gone = finished_crawl(database, warcs, range(4))
    finished_crawl(database, warcs, range(4, 6))
    gone.unlink()
    locks = LockConfig(db_url, ttl=60)
    kept = quarantine_dir(warcs) / f"{gone.name}.rows.jsonl"

    report = doctor(database, warcs, indexes, locks, dry_run=False)
    assert [f.line(dry_run=False) for f in report.findings] == [
        f"{gone.name}: 4 capture rows point into it, but it is not in warcs/; not repaired: it may come back "
        "(restore it); `syndicrawl doctor --forget-missing` removes the rows"]
    assert not report.healthy and len(rows(database)) == 6 and not kept.exists()

    report = doctor(database, warcs, indexes, locks, dry_run=False, forget_missing=True)
    assert [f.line(dry_run=False) for f in report.findings] == [
        f"{gone.name}: 4 capture rows point into it, but it is not in warcs/; 4 capture rows and their articles "
        f"removed (kept in quarantine/{kept.name})"]
    assert report.healthy and len(rows(database)) == 2 and gone.name not in {name for name, _, _ in rows(database)}
    lines = [json.loads(line) for line in kept.read_text().splitlines()]
    assert sorted(line["capture"]["url"] for line in lines) == [f"http://news.example/story?id={n}" for n in range(4)]


def test_rows_are_never_removed_while_the_warc_directory_is_empty(database: Database, db_url: str, tmp_path: Path) -> None:
    """A disk not mounted looks like every file gone."""
    warcs = tmp_path / "warcs"
    finished_crawl(database, warcs, range(3)).unlink()
    report = doctor(database, warcs, tmp_path / "indexes", LockConfig(db_url, ttl=60), dry_run=False, forget_missing=True)
    assert [f.line(dry_run=False) for f in report.findings] == [
        f"{warcs}: no WARC file there, but 3 capture rows point into 1 files; not repaired: is the directory mounted? "
        "nothing is removed"]
    assert len(rows(database)) == 3


@pytest.mark.redis
def test_redis_lock_keys_of_dead_processes_are_removed(sqlite_url: str, redis_target: RedisTarget, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)  # fmt: skip
    locks = LockConfig(sqlite_url, ttl=600, redis_url=redis_target.url, redis_prefix=redis_target.prefix)
    client = redis.Redis.from_url(redis_target.url)
    stale = Holder("t", "crawl of gazette", int(dead.stdout), socket.gethostname(), datetime.now(UTC).isoformat())
    client.set(f"{redis_target.prefix}lock:crawl:gazette", json.dumps(asdict(stale)), px=600_000)
    with Locks(locks, ["crawl:digest"], "crawl of digest"), Database(sqlite_url) as database:  # alive: kept
        looked = doctor(database, tmp_path / "warcs", tmp_path / "indexes", locks, dry_run=True)
        assert [f.line(dry_run=True) for f in looked.findings] == [
            f"lock crawl:gazette (Redis): held by crawl of gazette (pid {dead.stdout.strip()} on {socket.gethostname()}, "
            f"since {datetime.fromisoformat(stale.since):%Y-%m-%d %H:%M:%S} UTC), whose process is gone; would be removed"]
        assert client.exists(f"{redis_target.prefix}lock:crawl:gazette")
        report = doctor(database, tmp_path / "warcs", tmp_path / "indexes", locks, dry_run=False)
        assert report.healthy and len(report.findings) == 1
        assert not client.exists(f"{redis_target.prefix}lock:crawl:gazette")
        assert client.exists(f"{redis_target.prefix}lock:crawl:digest")
    client.close()
