"""Interoperability with webrecorder's tools: pywb replays syndicrawl's WARCs from its CDXJ index,
pywb's own indexer agrees with the CDX API, pywb's CDX server answers as ``serve`` does over our
index files, ``warcio check`` and ``wacz validate`` pass.

pywb pins old redis/fakeredis, so it lives in a venv of its own, cached under
``~/.cache/syndicrawl-test/`` by version (reruns take seconds). Building it is the one
step that reaches PyPI; without PyPI these tests skip, except under CI=true. Run them
alone with ``pytest -m pywb``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.db.engine import Database, sqlite_url
from archive.lookup.cdx import CdxQuery, query
from archive.lookup.cdx_formats import CDX11
from archive.warc.records import iter_records
from tests.fixtures.cli import run_syndicrawl, write_sources
from syndicrawl.web.api import ArchiveApp
from tests.fixtures.servers import WORDPRESS_POSTS
from tests.test_serve import call

pytestmark = pytest.mark.pywb

PYWB = "pywb==2.10.0"
WACZ = "wacz==0.6.0"
VENV = Path.home() / ".cache" / "syndicrawl-test" / f"pywb-venv-{PYWB}-{WACZ}".replace("==", "-")


def _without_netguard() -> dict[str, str]:
    """The environment for pip: the test network guard would stop it reaching PyPI."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and not p.endswith("netguard")]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@pytest.fixture(scope="session")
def pywb_bin() -> Path:
    """The bin/ of a venv holding pywb and py-wacz, built once and kept."""
    ready = VENV / "installed"
    if not ready.exists():
        shutil.rmtree(VENV, ignore_errors=True)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        base = getattr(sys, "_base_executable", sys.executable)
        steps = [[base, "-m", "venv", str(VENV)], [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", PYWB, WACZ]]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, env=_without_netguard(), timeout=900)
            if result.returncode != 0:
                message = f"cannot build the pywb venv ({' '.join(step[-3:])}): {result.stderr.strip()[-400:]}"
                if os.environ.get("CI") == "true":
                    pytest.fail(message)
                pytest.skip(message)
        ready.write_text(f"{PYWB} {WACZ}\n")
    return VENV / "bin"


@dataclass
class Crawl:
    data: Path
    warcs: list[Path]
    urls: list[str]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory, wordpress_server, fast_settings: Path) -> Crawl:
    """The gazette crawled twice: responses, then revisits of the unchanged pages."""
    tmp = tmp_path_factory.mktemp("pywb")
    sources = write_sources(tmp / "sources.toml", [{"name": "gazette", "kind": "repost",
                                                    "feeds": [wordpress_server.url("/feed/")]}])
    for _ in range(2):
        result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp / "data", settings=fast_settings)
        assert result.returncode == 0, result.stderr
    result = run_syndicrawl("index", "rebuild", data_dir=tmp / "data")
    assert result.returncode == 0, result.stderr
    site = wordpress_server.site
    urls = [site.permalink(post) for post in WORDPRESS_POSTS[-3:]]  # the three in the feed
    return Crawl(tmp / "data", sorted((tmp / "data" / "warcs").glob("*.warc.gz")), urls)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def wayback(pywb_bin: Path, crawl: Crawl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pywb's ``wayback`` on loopback: collection ``gazette`` made by ``wb-manager init/add`` alone,
    and ``ours``, the same WARCs with our own CDXJ index files.

    Our metadata records are about the pages, under the pages' URLs: pywb must leave them
    out of its index, or it replays them instead of the pages.
    """
    root = tmp_path_factory.mktemp("wayback")
    for args in (["init", "gazette"], ["add", "gazette", *map(str, crawl.warcs)], ["init", "ours"]):
        result = subprocess.run([str(pywb_bin / "wb-manager"), *args], cwd=root, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    for path in crawl.warcs:
        shutil.copy(path, root / "collections" / "ours" / "archive")
    for path in (crawl.data / "indexes").glob("*.cdxj"):
        shutil.copy(path, root / "collections" / "ours" / "indexes")
    port = _free_port()
    process = subprocess.Popen([str(pywb_bin / "wayback"), "-b", "127.0.0.1", "-p", str(port)], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=2).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "wayback did not start"
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_pywb_replays_the_archived_article(wayback: str, crawl: Crawl, wordpress_server) -> None:
    post = WORDPRESS_POSTS[-1]
    url = wordpress_server.site.permalink(post)
    database = Database(sqlite_url(crawl.data))
    with database.session() as s:
        rows = list(query(s, CdxQuery.from_params({"url": [url]})))
    database.dispose()
    for row in rows:  # the response, then its revisit: pywb resolves the revisit to the payload
        with urllib.request.urlopen(f"{wayback}/gazette/{row.timestamp}id_/{url}") as response:
            body = response.read()
            encoding = response.headers.get("Content-Encoding")
        text = (gzip.decompress(body) if encoding == "gzip" else body).decode()
        assert response.status == 200
        first_sentence = post.html_body.split("</p>")[0].removeprefix("<p>").split(".")[0]
        assert first_sentence in text and f"<title>{post.title}" in text
    assert [json.loads(r.line.split(" ", 2)[2])["mime"] for r in rows] == ["text/html", "warc/revisit"]
    # The latest capture: the revisit, not the metadata record written after it about the page.
    with urllib.request.urlopen(f"{wayback}/gazette/2100id_/{url}") as response:
        body, encoding = response.read(), response.headers.get("Content-Encoding")
        assert response.headers.get("Content-Type").startswith("text/html")
    assert f"<title>{post.title}" in (gzip.decompress(body) if encoding == "gzip" else body).decode()


def _metadata_records(warcs: list[Path]) -> set[tuple[str, str]]:
    return {(path.name, str(offset)) for path in warcs for record, offset, _ in iter_records(path)
            if record.rec_type == "metadata"}


def _comparable(fields: dict[str, str]) -> tuple[str, ...]:
    """A row as both indexers write it. pywb's indexer drops the digest's "sha1:" and a revisit's status."""
    status = "" if fields.get("mime") == "warc/revisit" else fields.get("status", "")
    digest = fields["digest"].removeprefix("sha1:")
    return (fields["urlkey"], fields["timestamp"], fields["url"], fields.get("mime", ""), status, digest,
            fields["length"], fields["offset"], fields["filename"])


def test_cdx_api_rows_are_pywbs_cdx_indexer_rows(pywb_bin: Path, crawl: Crawl, wordpress_server) -> None:
    result = subprocess.run([str(pywb_bin / "cdx-indexer"), "-j", *map(str, crawl.warcs)],
                            capture_output=True, text=True, check=True)
    pywb_rows = []
    for line in result.stdout.splitlines():  # pywb leaves our metadata records out, as we do
        key, stamp, fields = line.split(" ", 2)
        pywb_rows.append(_comparable({"urlkey": key, "timestamp": stamp, **json.loads(fields)}))
    host = wordpress_server.url("/")
    database = Database(sqlite_url(crawl.data))
    with database.session() as s:
        ours = [_comparable(r.select(None)) for r in query(s, CdxQuery.from_params({"url": [host], "matchType": ["host"]}))]
    database.dispose()
    assert _metadata_records(crawl.warcs) and set(crawl.urls) <= {row[2] for row in ours}
    assert sum(row[3] == "warc/revisit" for row in ours) >= len(crawl.urls)  # the second crawl's revisits
    assert sorted(ours) == sorted(pywb_rows)


def test_warcio_check_and_wacz_validate_pass(pywb_bin: Path, crawl: Crawl, tmp_path: Path) -> None:
    warcio = Path(sys.executable).parent / "warcio"
    for path in crawl.warcs:
        result = subprocess.run([str(warcio), "check", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "gazette.wacz"
    result = run_syndicrawl("export", "wacz", "--out", str(out), data_dir=crawl.data)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([str(pywb_bin / "wacz"), "validate", "-f", str(out)], capture_output=True, text=True)
    assert result.returncode == 0 and "Validation succeeded, the passed WACZ is valid" in result.stdout, result.stdout


def test_cdx_server_answers_are_pywbs_over_our_index_files(wayback: str, crawl: Crawl, wordpress_server) -> None:
    """Each CDX query, and the JSON TimeMap, answered byte for byte as pywb's CDX server answers it
    from our index files. pywb adds fields of its own to each row, which we leave out: its access
    control's ``"access": "allow"`` (taken out of its answers here) and the collection as ``source``
    and ``source-coll`` (not added with ``nosource=true``)."""
    database = Database(sqlite_url(crawl.data))
    app = ArchiveApp(database, crawl.data / "warcs")
    host, page = wordpress_server.url("/"), crawl.urls[0]
    with database.session() as s:
        stamps = [row.timestamp for row in query(s, CdxQuery(url=page))]
    host_query = f"url={host}&matchType=host"
    queries = [
        host_query, f"{host_query}&output=json", f"{host_query}&output=link", f"{host_query}&fl=url,status",
        f"{host_query}&output=text&fl=timestamp,redirect,mime,length", f"{host_query}&sort=reverse&limit=3",
        f"url={page}", f"url={page}&output=link", f"url={page}&closest={stamps[-1]}&limit=1",
        f"url={page}&from={stamps[-1]}", f"url={page}&to={stamps[0]}&output=json",
        f"{host_query}&filter=!mime:warc/revisit&output=json&fl=url",
        *(f"{host_query}&collapseTime={digits}{more}" for digits in (4, 12, 13, 14)
          for more in ("", "&sort=reverse", f"&closest={stamps[0]}", "&filter=status:200&output=json")),
    ]
    checked = 0
    for params in queries:
        with urllib.request.urlopen(f"{wayback}/ours/cdx?{params}&nosource=true") as response:
            theirs = (response.headers.get_content_type(), response.read().replace(b', "access": "allow"', b""))
        status, content_type, ours = call(app, f"/cdx?{params}")
        assert (status, content_type, ours) == (200, *theirs), params
        checked += len(ours.splitlines())
    assert checked > 100
    # output=text without fl: CDX11 lines, as pywb writes the CDX11 fields when asked for them
    with urllib.request.urlopen(f"{wayback}/ours/cdx?{host_query}&output=text&fl={','.join(CDX11)}&nosource=true") as response:
        assert call(app, f"/cdx?{host_query}&output=text")[2] == response.read()
    # pywb's JSON TimeMap: the page's rows (pywb adds its collection, as source and source-coll)
    with urllib.request.urlopen(f"{wayback}/ours/timemap/json/{page}") as response:
        theirs = [{k: v for k, v in json.loads(line).items() if k not in ("source", "source-coll", "access")}
                  for line in response]
    assert [json.loads(line) for line in call(app, f"/timemap/json/{page}")[2].splitlines()] == theirs
    database.dispose()
