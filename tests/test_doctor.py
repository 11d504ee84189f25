"""``archive.doctor`` on hand-made crash leftovers: an ``.open`` WARC cut mid-gzip-member, with the
records of a batch whose rows were never committed; a file with nothing whole; a live crawl's
file; a dead process's lease and a daemon's run left running."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from archive.db.engine import Database
from archive.db.leases import acquire
from archive.db.locks import LockConfig, Locks
from archive.db.models import Capture, Crawl, Lease, ScheduleRun
from archive.db.runs import start_run
from archive.doctor import doctor, quarantine_dir
from archive.ingest.messages import Fetched
from archive.ingest.store import CaptureStore
from archive.warc import cdxj
from archive.warc.records import read_record, verify_file
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
