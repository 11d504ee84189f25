"""Retrieval over a real archive: a loopback site crawled three times, its article changed after the first.

``snapshot``, ``serve`` (CDX, Memento, replay, JSON), ``index rebuild`` and ``export wacz``
all read the same crawls.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.db import catalog
from archive.db.engine import Database, sqlite_url
from archive.db.models import Capture
from archive.db.timestamps import http_date, timestamp14
from archive.lookup.cdx import CdxQuery, query
from archive.warc import cdxj
from syndicrawl.cli import cli
from syndicrawl.demo.base import Reply
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import WordPressSite, wordpress_site
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS

FIRST = WORDPRESS_POSTS[0]
SECOND_TEXT = (
    "Correction: the contractors will now start on 10 October, a week later than first announced, because the "
    "stone for the eastern wall was delayed at the quarry. The council apologised to the fishing crews."
)
SECOND = replace(FIRST, html_body=FIRST.html_body + f"<p>{SECOND_TEXT}</p>\n")


class EditedSite:
    """A WordPress-like site whose one article is edited between crawls (``edition`` 0, then 1)."""

    def __init__(self, base: str) -> None:
        self.editions: list[WordPressSite] = [
            wordpress_site("Harbourside Gazette", [post, *WORDPRESS_POSTS[1:3]], base_url=base)
            for post in (FIRST, SECOND)
        ]
        self.edition = 0

    def route(self, path_and_query: str, request_headers: Mapping[str, str]) -> Reply:
        return self.editions[self.edition].route(path_and_query, request_headers)


@dataclass
class Archive:
    data: Path
    url: str
    site: EditedSite
    captures: list[Capture]  # of the article: first edition, second edition, second again (a revisit)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, fast_settings: Path) -> Iterator[Archive]:
    tmp = tmp_path_factory.mktemp("snapshots")
    with SiteServer(EditedSite) as server:
        sources = write_sources(tmp / "sources.toml", [{"name": "gazette", "kind": "repost",
                                                        "feeds": [server.url("/feed/")]}])
        for edition in (0, 1, 1):
            server.site.edition = edition
            result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp / "data", settings=fast_settings)
            assert result.returncode == 0, result.stderr
            time.sleep(1.1)  # each crawl in a second of its own: 14-digit timestamps tell them apart
        url = server.site.editions[0].permalink(FIRST)
        database = Database(sqlite_url(tmp / "data"))
        with database.session() as s:
            captures = catalog.captures_for_url(s, url)
        database.dispose()
        assert [c.revisit_of for c in captures] == [None, None, captures[1].id]
        yield Archive(tmp / "data", url, server.site, captures)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


# --- snapshot -------------------------------------------------------------------------


def test_snapshot_at_a_time_returns_the_capture_of_that_time(archive: Archive) -> None:
    first, second, revisit = archive.captures
    data = str(archive.data)
    for at, expected in [
        (timestamp14(first.timestamp), first),
        (first.timestamp.isoformat(), first),
        (timestamp14(second.timestamp), second),
        ("2016-11-03", first),  # long before: the nearest is the oldest
        (timestamp14(revisit.timestamp), revisit),
    ]:
        code, out, err = invoke("snapshot", archive.url, "--at", at, "--text", "--data-dir", data)
        assert code == 0, err
        assert err.startswith(f"{timestamp14(expected.timestamp)} 200 "), (at, err)
        assert (SECOND_TEXT in out) == (expected is not first), at


def test_snapshot_defaults_to_the_latest_and_resolves_a_revisit(archive: Archive) -> None:
    _, second, revisit = archive.captures
    code, out, err = invoke("snapshot", archive.url, "--decode", "--data-dir", str(archive.data))
    assert code == 0, err
    assert err.startswith(f"{timestamp14(revisit.timestamp)} 200 revisit of #{second.id} {revisit.warc_file} ")
    expected = archive.site.editions[1].reply_for(archive.site.editions[1].path(SECOND)).body
    assert out.encode() == expected


def test_snapshot_out_writes_the_payload_as_archived(archive: Archive, tmp_path: Path) -> None:
    first = archive.captures[0]
    out = tmp_path / "page.bin"
    code, _, err = invoke("snapshot", archive.url, "--at", timestamp14(first.timestamp), "--out", str(out),
                          "--data-dir", str(archive.data))
    assert code == 0, err
    sent = archive.site.editions[0].reply_for(archive.site.editions[0].path(FIRST), {"Accept-Encoding": "gzip"})
    assert ("Content-Encoding", "gzip") in sent.headers
    assert out.read_bytes() == sent.body  # still gzip, as the server sent it
    assert gzip.decompress(out.read_bytes()).startswith(b"<!DOCTYPE html>")
    assert err.endswith(f"Wrote {len(sent.body)} bytes to {out}\n")


def test_snapshot_headers_and_list(archive: Archive) -> None:
    code, out, _ = invoke("snapshot", archive.url, "--headers", "--data-dir", str(archive.data))
    assert code == 0
    assert out.startswith("HTTP/1.1 200")
    assert re.search(r"^Content-Encoding: gzip$", out, re.M) and re.search(r"^Etag: W/\"", out, re.M)
    code, out, _ = invoke("snapshot", archive.url + "#comments", "--list", "--data-dir", str(archive.data))
    assert code == 0
    rows = [line for line in out.splitlines() if "gazette-" in line]
    assert len(rows) == 3 and "revisit of #" in rows[2] and "response" in rows[0]


def test_snapshot_errors_are_one_line(archive: Archive) -> None:
    data = str(archive.data)
    code, out, err = invoke("snapshot", "http://127.0.0.1:1/nope/", "--data-dir", data)
    assert (code, out, err) == (1, "", "Error: http://127.0.0.1:1/nope/: no capture in the archive\n")
    code, out, err = invoke("snapshot", archive.url, "--at", "2016-13-45", "--data-dir", data)
    assert code == 1 and err.startswith("Error: bad time '2016-13-45': give a date") and err.count("\n") == 1
    code, _, err = invoke("snapshot", archive.url, "--at", "20161399", "--data-dir", data)
    assert code == 1 and err == "Error: bad timestamp '20161399': not a real date and time\n"


# --- indexes --------------------------------------------------------------------------


def test_the_crawl_indexes_each_warc_file_as_it_closes(archive: Archive) -> None:
    """No rebuild needed: every finished WARC has its CDXJ index, the same one a rebuild writes."""
    warcs = sorted((archive.data / "warcs").glob("*.warc.gz"))
    written = {p.name: p.read_text() for p in (archive.data / "indexes").glob("*.cdxj")}
    assert sorted(written) == [cdxj.index_name(p.name) for p in warcs]
    assert all(text.count("\n") >= 1 for text in written.values())
    code, _, err = invoke("index", "rebuild", "--data-dir", str(archive.data))
    assert code == 0, err
    assert {p.name: p.read_text() for p in (archive.data / "indexes").glob("*.cdxj")} == written


def test_index_rebuild_matches_the_cdx_api_and_reports_a_truncated_file(archive: Archive, tmp_path: Path) -> None:
    code, out, err = invoke("index", "rebuild", "--data-dir", str(archive.data))
    warcs = sorted((archive.data / "warcs").glob("*.warc.gz"))
    indexes = sorted((archive.data / "indexes").glob("*.cdxj"))
    assert code == 0, err
    assert [p.name for p in indexes] == [cdxj.index_name(p.name) for p in warcs]
    lines = [line.rstrip("\n") for line in cdxj.merged_lines(indexes)]
    assert out == f"Indexed {len(warcs)} WARC files ({len(lines)} lines) into {archive.data / 'indexes'}/\n"
    host = archive.url.split("/2016/")[0] + "/"
    database = Database(sqlite_url(archive.data))
    with database.session() as s:
        rows = [row.line for row in query(s, CdxQuery.from_params({"url": [host], "matchType": ["host"]}))]
    database.dispose()
    assert rows == lines  # same lines, same order, from the database and from cdxj-indexer
    revisit = archive.captures[2]
    assert any('"mime": "warc/revisit"' in line and f'"offset": "{revisit.warc_offset}"' in line for line in lines)
    assert not any('"mime": "application/json"' in line for line in lines)  # no metadata records

    broken = tmp_path / "data"
    (broken / "warcs").mkdir(parents=True)
    shutil.copy(archive.data / "syndicrawl.sqlite3", broken)
    cut = broken / "warcs" / warcs[0].name
    cut.write_bytes(warcs[0].read_bytes()[:-100])
    code, out, err = invoke("index", "rebuild", "--data-dir", str(broken))
    assert code == 1
    assert re.fullmatch(rf"Error: {re.escape(str(cut))}: damaged WARC record at offset \d+: .*\n", err)


def test_index_rebuild_removes_only_indexes_it_wrote(archive: Archive, tmp_path: Path) -> None:
    """Stale indexes are removed only if they are ours (``NAME.cdxj`` of ``NAME.warc.gz``): an
    index another tool keeps beside them (pywb's index.cdxj of its whole collection) stays."""
    data = tmp_path / "data"
    shutil.copytree(archive.data, data)
    [gone, *kept] = sorted((data / "warcs").glob("*.warc.gz"))
    gone.unlink()
    pywb = data / "indexes" / "index.cdxj"
    pywb.write_text("".join(f'{line.split(" {")[0]} {{"url": "x", "filename": "{gone.name}"}}\n'
                            for line in (data / "indexes" / cdxj.index_name(gone.name)).read_text().splitlines()))
    notes = data / "indexes" / "notes.cdxj"
    notes.write_text("not an index\n")
    code, out, err = invoke("index", "rebuild", "--data-dir", str(data))
    assert code == 0, err
    assert out.endswith("; removed 1 stale indexes\n"), out
    assert sorted(p.name for p in (data / "indexes").glob("*.cdxj")) == sorted(
        [cdxj.index_name(p.name) for p in kept] + ["index.cdxj", "notes.cdxj"])


# --- serve ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(archive: Archive) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicrawl", "serve", "--port", "0", "--data-dir", str(archive.data)],
        stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
    assert found, line
    yield found.group(1)
    process.terminate()
    process.wait(timeout=10)


def get(base: str, path: str, headers: Mapping[str, str] | None = None,
        conn: http.client.HTTPConnection | None = None) -> http.client.HTTPResponse:
    conn = conn or http.client.HTTPConnection(base.removeprefix("http://"))
    conn.request("GET", path, headers=dict(headers or {}))
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    return response


def test_cdx_api_answers_like_pywb(archive: Archive, server: str) -> None:
    first, second, revisit = archive.captures
    conn = http.client.HTTPConnection(server.removeprefix("http://"))
    response = get(server, f"/cdx?url={archive.url}", conn=conn)
    assert response.status == 200 and response.getheader("Content-Type") == "text/x-cdxj"
    lines = response.body.decode().splitlines()  # type: ignore[attr-defined]
    assert [line.split(" ")[1] for line in lines] == [timestamp14(c.timestamp) for c in archive.captures]
    assert json.loads(lines[2].split(" ", 2)[2])["mime"] == "warc/revisit"
    # sent whole, not chunked: waitress would close the connection after a chunked reply
    assert response.getheader("Content-Length") == str(len(response.body)) and conn.sock is not None  # type: ignore[attr-defined]
    # the same connection again (keep-alive), JSON output, nearest first
    response = get(server, f"/cdx?url={archive.url}&output=json&closest={timestamp14(revisit.timestamp)}&limit=2"
                           "&fl=timestamp,mime,offset", conn=conn)
    rows = [json.loads(line) for line in response.body.decode().splitlines()]  # type: ignore[attr-defined]
    assert rows == [
        {"timestamp": timestamp14(revisit.timestamp), "mime": "warc/revisit", "offset": str(revisit.warc_offset)},
        {"timestamp": timestamp14(second.timestamp), "mime": "text/html", "offset": str(second.warc_offset)},
    ]
    prefix = archive.url.split("/2016/")[0] + "/2016/*"
    response = get(server, f"/cdx?url={prefix}&filter=!mime:warc/revisit&filter=~url:.*harbour.*&sort=reverse",
                   conn=conn)
    lines = response.body.decode().splitlines()  # type: ignore[attr-defined]
    assert [line.split(" ")[1] for line in lines] == [timestamp14(second.timestamp), timestamp14(first.timestamp)]
    response = get(server, "/cdx?url=http://x/&matchType=subdomain", conn=conn)
    assert response.status == 400
    assert json.loads(response.body) == {  # type: ignore[attr-defined]
        "message": "bad matchType 'subdomain': give one of exact, prefix, host, domain"}


def test_memento_timemap_timegate_and_raw_replay(archive: Archive, server: str) -> None:
    first, second, revisit = archive.captures
    response = get(server, f"/timemap/link/{archive.url}")
    assert response.status == 200 and response.getheader("Content-Type") == "application/link-format"
    body = response.body.decode()  # type: ignore[attr-defined]
    mementos = re.findall(r'<([^>]+)>; rel="memento"; datetime="([^"]+)"', body)
    assert mementos == [(f"{server}/{timestamp14(c.timestamp)}id_/{c.url}", http_date(c.timestamp))
                        for c in archive.captures]
    assert f'<{archive.url}>; rel="original"' in body

    response = get(server, f"/timegate/{archive.url}", {"Accept-Datetime": http_date(first.timestamp)})
    assert response.status == 302
    assert response.getheader("Location") == f"{server}/{timestamp14(first.timestamp)}id_/{archive.url}"
    assert response.getheader("Vary") == "accept-datetime"
    assert f'rel="memento"; datetime="{http_date(first.timestamp)}"' in response.getheader("Link", "")
    assert get(server, f"/timegate/{archive.url}", {"Accept-Datetime": "yesterday"}).status == 400

    response = get(server, f"/{timestamp14(revisit.timestamp)}id_/{archive.url}")
    assert response.status == 200
    assert response.getheader("Memento-Datetime") == http_date(revisit.timestamp)
    assert response.getheader("Content-Encoding") == "gzip"
    sent = archive.site.editions[1].reply_for(archive.site.editions[1].path(SECOND), {"Accept-Encoding": "gzip"})
    assert response.body == sent.body  # type: ignore[attr-defined]  # the original's payload, as archived
    assert get(server, "/id_/http://127.0.0.1:1/nope/").status == 404


def test_article_and_chain_json(archive: Archive, server: str) -> None:
    response = get(server, f"/api/article?url={archive.url}")
    article = json.loads(response.body)  # type: ignore[attr-defined]
    assert response.status == 200 and article["title"] == FIRST.title and SECOND_TEXT in article["text"]
    code, out, _ = invoke("article", archive.url, "--json", "--data-dir", str(archive.data))
    assert code == 0 and json.loads(out) == article
    response = get(server, f"/api/chain?url={archive.url}")
    assert response.status == 200 and json.loads(response.body)["url"] == archive.url  # type: ignore[attr-defined]
    assert get(server, "/api/article?url=http://127.0.0.1:1/nope/").status == 404


# --- export wacz ----------------------------------------------------------------------


def test_export_wacz_holds_warcs_index_and_pages(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "gazette.wacz"
    code, stdout, err = invoke("export", "wacz", "--out", str(out), "--source", "gazette", "--data-dir", str(archive.data))
    assert code == 0, err
    warcs = sorted(p.name for p in (archive.data / "warcs").glob("*.warc.gz"))
    with zipfile.ZipFile(out) as wacz:
        names = wacz.namelist()
        assert sorted(n for n in names if n.startswith("archive/")) == [f"archive/{w}" for w in warcs]
        assert all(wacz.getinfo(f"archive/{w}").compress_type == zipfile.ZIP_STORED for w in warcs)
        package = json.loads(wacz.read("datapackage.json"))
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
        index = gzip.decompress(wacz.read("indexes/index.cdx.gz")).decode().splitlines()
    assert package["wacz_version"] == "1.1.1"
    assert {r["path"] for r in package["resources"]} == set(names) - {"datapackage.json", "datapackage-digest.json"}
    assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages", "hasText": True}
    assert [p["url"] for p in pages[1:] if p["url"] == archive.url] == [archive.url] * 3
    assert all(p["text"] and p["title"] for p in pages[1:])
    assert package["title"] == "syndicrawl: gazette"
    assert (package["mainPageURL"], package["mainPageDate"]) == (pages[-1]["url"], pages[-1]["ts"])
    assert index == [line.rstrip("\n") for line in cdxj.merged_lines(sorted((archive.data / "indexes").glob("*.cdxj")))]
    assert stdout == f"Wrote {out}: {len(warcs)} WARC files, {len(index)} index lines, {len(pages) - 1} pages\n"
    code, _, err = invoke("export", "wacz", "--out", str(out), "--title", "Harbour news", "--data-dir", str(archive.data))
    with zipfile.ZipFile(out) as wacz:
        assert (code, json.loads(wacz.read("datapackage.json"))["title"]) == (0, "Harbour news"), err
    code, _, err = invoke("export", "wacz", "--out", str(out), "--from", "2030-01-01", "--data-dir", str(archive.data))
    assert (code, err) == (1, "Error: no captures match the source and time range given: nothing to export\n")


def _range_read(path: Path) -> dict[str, bytes]:
    """Each entry of a ZIP as a range-reading client finds it (wabac.js's ZipRangeReader, how
    ReplayWeb.page reads a WACZ): from the central directory alone, and when an entry's extra
    field there is empty, its data right after the local header's name, as if that had none."""
    data = path.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    count, offset = struct.unpack_from("<H", data, end + 8)[0], struct.unpack_from("<I", data, end + 16)[0]
    if offset == 0xFFFFFFFF or count == 0xFFFF:
        assert data[end - 20:end - 16] == b"PK\x06\x07"
        record = struct.unpack_from("<Q", data, end - 12)[0]
        count, offset = struct.unpack_from("<Q", data, record + 32)[0], struct.unpack_from("<Q", data, record + 48)[0]
    entries = {}
    for _ in range(count):
        assert data[offset:offset + 4] == b"PK\x01\x02"
        method, _, _, _, compressed, size, name_length, extra_length, comment_length = struct.unpack_from(
            "<HHHIIIHHH", data, offset + 10
        )
        local = struct.unpack_from("<I", data, offset + 42)[0]
        name = data[offset + 46:offset + 46 + name_length].decode()
        extra = data[offset + 46 + name_length:offset + 46 + name_length + extra_length]
        wide = [v for v in (size, compressed, local) if v == 0xFFFFFFFF]
        if wide:  # the ZIP64 extra field (tag 1) holds, in order, the fields set to 0xFFFFFFFF
            assert extra[:2] == b"\x01\x00"
            values = iter(struct.unpack_from(f"<{len(wide)}Q", extra, 4))
            size = next(values) if size == 0xFFFFFFFF else size
            compressed = next(values) if compressed == 0xFFFFFFFF else compressed
            local = next(values) if local == 0xFFFFFFFF else local
        start = local + 30 + name_length
        if extra_length:
            start += struct.unpack_from("<H", data, local + 28)[0]
        raw = data[start:start + compressed]
        entries[name] = zlib.decompress(raw, -15) if method == zipfile.ZIP_DEFLATED else raw
        offset += 46 + name_length + extra_length + comment_length
    return entries


@pytest.mark.parametrize("zip64_limit", ["default", "largest WARC", 1000])
def test_export_wacz_reads_right_by_range(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zip64_limit: str | int
) -> None:
    """ReplayWeb.page reads every entry of the WACZ right (zipfile's force_zip64 put a ZIP64 field in
    the local headers only: it read each entry 20 bytes early). With zipfile's ZIP64 limit lowered,
    entries over it carry the field, and one as large as the limit (where zipfile, told the size,
    writes it in the local header only) does not."""
    if zip64_limit == "largest WARC":
        zip64_limit = max(p.stat().st_size for p in (archive.data / "warcs").glob("*.warc.gz"))
    if isinstance(zip64_limit, int):
        monkeypatch.setattr(zipfile, "ZIP64_LIMIT", zip64_limit)
    out = tmp_path / "gazette.wacz"
    code, _, err = invoke("export", "wacz", "--out", str(out), "--data-dir", str(archive.data))
    assert code == 0, err
    with zipfile.ZipFile(out) as wacz:
        expected = {name: wacz.read(name) for name in wacz.namelist()}
    assert _range_read(out) == expected
