"""WARC files of several workers in one shared directory (``[storage] warc_storage``).

Each worker's crawls end their files' names with its id; any machine sharing the database and
the directory, with a data directory of its own that crawled nothing, finds every file by the
name the catalog holds: snapshot, serve, export wacz and doctor work from it. A worker killed
mid-crawl leaves its ``.open`` file in the shared directory, and the worker that runs its job
again repairs it there (no doctor on the dead machine).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from archive.db.engine import Database
from archive.db.models import Capture
from archive.doctor import _finished_files, open_files
from archive.errors import ConfigError
from archive.warc.writer import WarcWriter
from scheduler import jobs
from scheduler.queue import worker_id
from syndicrawl.settings import WORKER_ID, load_settings
from tests.fixtures.cli import write_sources
from tests.test_archive_warc import exchange
from tests.test_queue_workers import Workers, _descendants, _settings, _wait_runs, sites  # noqa: F401
from tests.warcs import read_warcs

if TYPE_CHECKING:
    from syndicrawl.demo.server import SiteServer
    from tests.fixtures.feedserver import FeedSite
    from tests.fixtures.redis_server import RedisTarget

#: ``SOURCE-TIME-SERIAL-WORKER.warc.gz``; the worker is ``HOST-PID``.
_NAME = re.compile(r"^(?P<source>s\d+)-\d{20}-\d{5}-(?P<worker>.+)-(?P<pid>\d+)\.warc\.gz$")


def test_a_writers_id_ends_its_file_names_and_doctor_still_reads_the_source(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "rbn-2", writer_id="vm-8430")
    writer.write_exchange(exchange())
    (open_path,) = tmp_path.glob("*.open")
    assert re.fullmatch(r"rbn-2-\d{20}-00000-vm-8430\.warc\.gz\.open", open_path.name)
    assert open_files(tmp_path) == {"rbn-2": [open_path]}
    (finished,) = writer.close()
    assert _finished_files(tmp_path) == {"rbn-2": [finished]}


def test_the_warc_directory_is_the_shared_one_when_set(tmp_path: Path) -> None:
    settings_file = tmp_path / "cluster.toml"
    settings_file.write_text(f'[storage]\nwarc_storage = "{tmp_path / "nfs"}"\n', encoding="utf-8")
    assert load_settings(settings_file, env={}, overrides={"data_dir": tmp_path / "a"}).warc_dir == tmp_path / "nfs"
    # a machine that mounts it elsewhere
    moved = load_settings(settings_file, env={"SYNDICRAWL_WARC_STORAGE": "/mnt/nfs"})
    assert moved.warc_dir == Path("/mnt/nfs") and moved.origins["warc_storage"] == "environment (SYNDICRAWL_WARC_STORAGE)"
    assert load_settings(None, env={}, overrides={"data_dir": tmp_path / "a"}).warc_dir == tmp_path / "a" / "warcs"


@pytest.mark.parametrize(("env", "message"), [
    ({"SYNDICRAWL_WARC_STORAGE": "gs://bucket/warcs"}, "environment (SYNDICRAWL_WARC_STORAGE): setting 'warc_storage' "
     "must be a directory path or an s3://BUCKET/PREFIX URL, got 'gs://bucket/warcs'"),
    ({"SYNDICRAWL_WARC_STORAGE": "s3://"}, "environment (SYNDICRAWL_WARC_STORAGE): setting 'warc_storage' "
     "must be a directory path or an s3://BUCKET/PREFIX URL, got 's3://'"),
    ({"SYNDICRAWL_WORKER_ID": "vm 1/2"}, "environment (SYNDICRAWL_WORKER_ID): setting 'queue_worker_id' must be 1-64 "
     "letters, digits, '.', '_' or '-' (it ends WARC file names), got 'vm 1/2'"),
])
def test_a_bad_storage_or_worker_id_is_one_line_naming_it(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(None, env=env)
    assert str(raised.value) == message


@pytest.mark.parametrize("host", ["vm", "Build Host #3.local", "-", "a" * 255])
def test_a_workers_id_is_a_valid_worker_id_whatever_its_host_name(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: host)
    name = worker_id()
    assert WORKER_ID.fullmatch(name) and name.endswith(f"-{os.getpid()}") or name == str(os.getpid()), name


def _run(*args: str, settings: Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syndicrawl", *args, "--settings", str(settings), "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=120)


def _cluster(tmp_path: Path, postgres_url: str, redis: RedisTarget, servers: list[SiteServer[FeedSite]]) -> tuple[
        Workers, Path, Path]:
    shared = tmp_path / "shared" / "warcs"
    settings = _settings(tmp_path / "cluster.toml", postgres_url, redis, warc_storage=shared)
    config = write_sources(tmp_path / "sources.toml", [
        {"name": f"s{n}", "kind": "origin", "feeds": [server.url("/feed.xml")]} for n, server in enumerate(servers)
    ])
    return Workers(tmp_path, settings), shared, config


def _served(settings: Path, data: Path, target: str) -> tuple[int, bytes]:
    """``syndicrawl serve`` from ``data``: the answer to GET ``target``."""
    process = subprocess.Popen([sys.executable, "-m", "syndicrawl", "serve", "--port", "0", "--settings", str(settings),
                                "--data-dir", str(data)], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.search(r"on http://(127\.0\.0\.1:\d+)/", line)
        assert found, line
        conn = http.client.HTTPConnection(found.group(1), timeout=10)
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.postgres
@pytest.mark.redis
def test_any_machine_reads_every_workers_files(
    tmp_path: Path, postgres_url: str, redis_target: RedisTarget, sites: list[SiteServer[FeedSite]],  # noqa: F811
) -> None:
    workers, shared, config = _cluster(tmp_path, postgres_url, redis_target, sites)
    db = Database(postgres_url)
    try:
        started = [workers.start(concurrency=2, batch=2) for _ in range(2)]  # 4 jobs each at most: both run some
        for n in range(len(sites)):
            jobs.crawl(f"s{n}", str(config), str(tmp_path / "daemon"), str(workers.settings))
        _wait_runs(db, len(sites), workers, timeout=120)
        with db.session() as s:
            original = aliased(Capture)
            pairs = s.execute(select(Capture.url, Capture.warc_file, original.warc_file)
                              .join(original, Capture.revisit_of == original.id)).all()  # fmt: skip
            files = set(s.scalars(select(Capture.warc_file)))
    finally:
        workers.stop()
        db.dispose()

    names = {path.name: _NAME.match(path.name) for path in shared.iterdir()}
    assert names and all(names.values()), sorted(names)
    assert {int(m["pid"]) for m in names.values() if m} == {p.pid for p in started}, "each worker's id ends its files"
    assert files <= set(names), "the catalog names the files in the shared directory"
    assert not any((tmp_path / f"worker{n}" / "warcs").exists() for n in range(2)), "nothing in a worker's data dir"
    # Identical posts of the sites are revisits; some point into a file of the other worker.
    across = [url for url, mine, theirs in pairs
              if "/post/" in url and _NAME.match(mine)["pid"] != _NAME.match(theirs)["pid"]]  # type: ignore[index]
    assert across, pairs

    viewer = tmp_path / "viewer"  # another machine: the same database and directory, nothing crawled
    url = across[0]
    shown = _run("snapshot", url, settings=workers.settings, data=viewer)
    assert shown.returncode == 0 and "Harbour report number" in shown.stdout, shown.stderr
    status, body = _served(workers.settings, viewer, f"/id_/{url}")
    assert status == 200 and b"Harbour report number" in body
    wacz = tmp_path / "all.wacz"
    exported = _run("export", "wacz", "--out", str(wacz), settings=workers.settings, data=viewer)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(wacz) as archive:
        assert {name.removeprefix("archive/") for name in archive.namelist() if name.startswith("archive/")} == files
    checked = _run("doctor", settings=workers.settings, data=viewer)
    assert checked.returncode == 0 and "not in" not in checked.stdout, checked.stdout + checked.stderr


@pytest.mark.postgres
@pytest.mark.redis
def test_a_killed_workers_open_file_is_repaired_by_the_worker_that_runs_its_job(
    tmp_path: Path, postgres_url: str, redis_target: RedisTarget, sites: list[SiteServer[FeedSite]],  # noqa: F811
) -> None:
    workers, shared, config = _cluster(tmp_path, postgres_url, redis_target, sites)
    slow = sites[0].site
    slow.entries = 12  # 12 posts at 0.5 s: time to kill its crawl halfway
    db = Database(postgres_url)
    try:
        first = workers.start()
        jobs.crawl("s0", str(config), str(tmp_path / "daemon"), str(workers.settings))
        deadline = time.monotonic() + 60
        while sum(a.path.startswith("/post/") for a in slow.answers) < 3:
            assert time.monotonic() < deadline, workers.logs()
            time.sleep(0.1)
        for pid in [first.pid, *_descendants(first.pid)]:
            os.kill(pid, signal.SIGKILL)
        first.wait()
        (left,) = shared.glob("*.open")
        second = workers.start()
        _wait_runs(db, 1, workers, timeout=90)
    finally:
        workers.stop()
        db.dispose()

    assert int(_NAME.match(left.name.removesuffix(".open"))["pid"]) == first.pid  # type: ignore[index]
    assert not list(shared.glob("*.open")), "the re-run repaired the killed worker's file"
    finished = shared / left.name.removesuffix(".open")
    assert finished.exists() or (shared.parent / "quarantine" / left.name).exists()
    assert {int(m["pid"]) for m in map(_NAME.match, (p.name for p in shared.glob("*.warc.gz"))) if m} - {first.pid} == {
        second.pid}
    responses = {r.url.removeprefix(sites[0].base_url) for r in read_warcs(shared) if r.type == "response"}
    assert responses >= {f"/post/{n}/" for n in range(1, 13)}, "every WARC readable, no page lost"
