"""WARC files in S3-compatible object storage (``[storage] warc_storage = "s3://BUCKET/PREFIX"``).

Against moto's S3 server on a loopback port (the endpoint set in the environment, as for any AWS
client; dummy credentials, so no test can reach AWS). Each worker writes its files in its own data
directory and uploads each once it is finished; another machine with the same database and an
empty data directory reads them from the bucket: snapshot, serve, export wacz, doctor; import puts
a file in the bucket.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from archive.db.engine import Database
from archive.db.models import Capture
from archive.errors import ConfigError, WarcError
from archive.warc.storage import WarcStorage
from archive.warc.writer import WarcWriter
from scheduler import jobs
from tests.fixtures.cli import write_sources
from tests.test_archive_warc import HTML, exchange
from tests.test_queue_workers import Workers, _settings, _wait_runs, sites  # noqa: F401
from tests.test_shared_warcs import _NAME, _run, _served

if TYPE_CHECKING:
    from syndicrawl.demo.server import SiteServer
    from tests.fixtures.feedserver import FeedSite
    from tests.fixtures.redis_server import RedisTarget


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 server on a free loopback port with a bucket; the environment (inherited by the
    workers) points every AWS client at it, with dummy credentials and no profile files."""
    try:
        from moto.server import ThreadedMotoServer
        import s3fs
    except ImportError as exc:
        message = f"moto[server] and s3fs are needed for object storage tests (make install): {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    s3fs.S3FileSystem.clear_instance_cache()  # an instance keeps the endpoint it was made with
    bucket = f"warcs-{uuid.uuid4().hex[:12]}"  # moto keeps its buckets for the whole test process
    s3fs.S3FileSystem().mkdir(bucket)
    try:
        yield f"s3://{bucket}/cluster"
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


def test_a_finished_file_is_uploaded_and_read_back_by_ranges(tmp_path: Path, s3: str) -> None:
    store = WarcStorage(tmp_path / "warcs", s3)
    writer = WarcWriter(store.local, "gazette", writer_id="vm-1")
    written = writer.write_exchange(exchange())
    name = written.locator.filename
    assert store.location(name) == store.local / f"{name}.open", "a file being written is read here"
    (finished,) = writer.close()
    store.upload(finished)
    assert not finished.exists() and store.names() == [name]
    assert store.location(name) == f"{s3}/{name}"

    from archive.warc.records import read_record

    with read_record(store.location(name), written.locator.offset, written.locator.length) as record:
        assert record.rec_headers.get_header("WARC-Record-ID") == written.record_id


def test_a_failed_upload_keeps_the_file_and_says_where(tmp_path: Path, s3: str) -> None:
    store = WarcStorage(tmp_path / "warcs", "s3://no-such-bucket/x")
    writer = WarcWriter(store.local, "gazette")
    writer.write_exchange(exchange())
    (finished,) = writer.close()
    with pytest.raises(WarcError, match=rf"^cannot upload {finished} to s3://no-such-bucket/x/{finished.name}: .*; "
                                        rf"it stays in {store.local}$"):
        store.upload(finished)
    assert finished.exists()


@pytest.mark.postgres
@pytest.mark.redis
def test_workers_upload_and_any_machine_reads_from_the_bucket(
    tmp_path: Path, postgres_url: str, redis_target: RedisTarget, sites: list[SiteServer[FeedSite]],  # noqa: F811
    s3: str,
) -> None:
    import s3fs

    settings = _settings(tmp_path / "cluster.toml", postgres_url, redis_target, warc_storage=s3)  # type: ignore[arg-type]
    config = write_sources(tmp_path / "sources.toml", [
        {"name": f"s{n}", "kind": "origin", "feeds": [server.url("/feed.xml")]} for n, server in enumerate(sites)
    ])
    workers = Workers(tmp_path, settings)
    db = Database(postgres_url)
    try:
        started = [workers.start(concurrency=2, batch=2) for _ in range(2)]  # 4 jobs each at most: both run some
        for n in range(len(sites)):
            jobs.crawl(f"s{n}", str(config), str(tmp_path / "daemon"), str(settings))
        _wait_runs(db, len(sites), workers, timeout=120)
        with db.session() as s:
            files = set(s.scalars(select(Capture.warc_file)))
            url = s.scalar(select(Capture.url).where(Capture.url.like("%/post/1/")).limit(1))
    finally:
        workers.stop()
        db.dispose()

    uploaded = {Path(key).name for key in s3fs.S3FileSystem().ls(s3.removeprefix("s3://"), detail=False, refresh=True)}
    names = {name: _NAME.match(name) for name in uploaded}
    assert names and all(names.values()), sorted(names)
    assert {int(m["pid"]) for m in names.values() if m} == {p.pid for p in started}, "each worker's id ends its files"
    assert files <= uploaded, "every file the catalog names is in the bucket"
    assert not [p.name for n in range(2) for p in (tmp_path / f"worker{n}" / "warcs").glob("*.warc.gz*")], \
        "no worker keeps a copy once uploaded"

    viewer = tmp_path / "viewer"  # another machine: the same database and bucket, nothing crawled
    shown = _run("snapshot", url, settings=settings, data=viewer)
    assert shown.returncode == 0 and "Harbour report number" in shown.stdout, shown.stderr
    status, body = _served(settings, viewer, f"/id_/{url}")
    assert status == 200 and b"Harbour report number" in body, body[:500]
    wacz = tmp_path / "all.wacz"
    exported = _run("export", "wacz", "--out", str(wacz), settings=settings, data=viewer)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(wacz) as archive:
        assert {name.removeprefix("archive/") for name in archive.namelist() if name.startswith("archive/")} == files
    checked = _run("doctor", settings=settings, data=viewer)
    assert checked.returncode == 0 and "not in" not in checked.stdout, checked.stdout + checked.stderr
    status = _run("status", settings=settings, data=viewer)
    assert re.search(rf"^Storage: {len(uploaded)} WARC files, [\d.]+ MB in {re.escape(s3)}$", status.stdout, re.M), status.stdout

    # import from the viewer: the file lands in the bucket, and its page is read back from there
    outside = tmp_path / "outside"
    writer = WarcWriter(outside, "elsewhere")
    writer.write_exchange(exchange(url="http://example.org/imported/"))
    (given,) = writer.close()
    imported = _run("import", str(given), settings=settings, data=viewer)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert f"{s3}/{given.name}" in imported.stdout
    assert given.name in {Path(key).name for key in s3fs.S3FileSystem().ls(s3.removeprefix("s3://"), detail=False, refresh=True)}
    assert not list((viewer / "warcs").glob("*.warc.gz")), "uploaded, not kept"
    shown = _run("snapshot", "http://example.org/imported/", "--decode", settings=settings, data=tmp_path / "third")
    assert shown.returncode == 0 and shown.stdout == HTML.decode(), shown.stderr
    with Database(postgres_url) as again, again.session() as s:
        assert s.scalar(select(func.count()).where(Capture.warc_file == given.name)) == 1


def test_object_storage_without_s3fs_is_one_line_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as where neither fsspec nor s3fs is installed
    with pytest.raises(ConfigError, match=r"^s3://bucket/a\.warc\.gz: object storage needs s3fs \(pip install 'syndicrawl\[s3\]'\)"):
        WarcStorage(Path("unused"), "s3://bucket").size("a.warc.gz")
