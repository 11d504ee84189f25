"""``syndicrawl import``: WARC files written by wget and by warcio, damage included, into a real archive.

The wget file is made by Debian's ``wget --warc-file`` against a loopback site; the warcio
file is built here record by record, so the offsets of its damaged records are known.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.db import catalog
from archive.db.engine import Database
from archive.db.models import Article, Syndication
from archive.ingest.importer import PROBLEM_LINES, Importer
from archive.warc.http import archived_body
from archive.warc.records import verify_file
from syndicrawl import exitcodes
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import Post, blogger_site, wordpress_site
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS
from tests.warcs import html_response, read_warcs, record_bytes

BASE = "http://gazette.test"
SITE = wordpress_site("Harbourside Gazette", WORDPRESS_POSTS, base_url=BASE)
A, B, DIGEST_BROKEN, C, CUT = WORDPRESS_POSTS[:5]


def url(post: Post) -> str:
    return SITE.permalink(post)


def html(post: Post) -> bytes:
    return SITE.reply_for(SITE.path(post)).body


def chunked(body: bytes, size: int = 500) -> bytes:
    """``body`` in HTTP/1.1 chunks, as wget and Heritrix archive a chunked response."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


@dataclass
class Built:
    path: Path
    offsets: dict[str, int]  # of the records and damage, by name


def build_warc(path: Path) -> Built:
    """warcinfo; A (gzip, chunked) and its request; B; garbage; a revisit of A; a record whose
    block digest is wrong; C; a record cut off at the end of the file."""
    members: list[tuple[str, bytes]] = []

    def add(name: str, record: ArcWarcRecord) -> None:
        members.append((name, record_bytes(record)))

    writer = WARCWriter(BytesIO(), warc_version="WARC/1.1")

    def response(post: Post, date: str, body: bytes, *args: tuple[str, str], **warc_headers: str) -> ArcWarcRecord:
        return html_response(url(post), date, body, args, **warc_headers)

    add("warcinfo", writer.create_warcinfo_record(path.name, {"software": "warcio", "isPartOf": "harbour archive"}))
    encoded = chunked(gzip.compress(html(A), mtime=0))
    first = response(A, "2016-09-02T10:00:00Z", encoded, ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"))
    add("A", first)
    request = StatusAndHeaders(f"GET {SITE.path(A)} HTTP/1.1", [("Host", "gazette.test")], is_http_request=True)
    add("request", writer.create_warc_record(url(A), "request", payload=BytesIO(b""), length=0, http_headers=request,
                                             warc_headers_dict={"WARC-Date": "2016-09-02T10:00:00Z"}))
    add("B", response(B, "2016-09-06T10:00:00Z", html(B)))
    members.append(("garbage", b"these bytes are no gzip member and no WARC record\r\n" * 3))
    revisit = writer.create_revisit_record(
        url(A), first.rec_headers.get_header("WARC-Payload-Digest"), url(A), "2016-09-02T10:00:00Z",
        http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=UTF-8")], protocol="HTTP/1.1"),
        warc_headers_dict={"WARC-Date": "2016-09-20T10:00:00Z"},
    )
    add("revisit", revisit)
    add("digest", response(DIGEST_BROKEN, "2016-09-10T10:00:00Z", html(DIGEST_BROKEN),
                           WARC_Block_Digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    add("C", response(C, "2016-09-19T10:00:00Z", html(C)))
    add("cut", response(CUT, "2016-09-23T10:00:00Z", html(CUT)))
    offsets, data = {}, b""
    for name, member in members:
        offsets[name] = len(data)
        data += member
    path.write_bytes(data[: offsets["cut"] + len(members[-1][1]) // 2])
    return Built(path, offsets)


def invoke(*args: str, data: Path, db_url: str) -> subprocess.CompletedProcess[str]:
    return run_syndicrawl(*args, data_dir=data, env={"SYNDICRAWL_DATABASE_URL": db_url})


def summary_row(stdout: str, name: str) -> list[str]:
    """A row of the import summary table, cells without padding."""
    line = next(line for line in stdout.splitlines() if f" {name} " in line and "│" in line)
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_import_of_a_warcio_file_skips_the_damage_and_imports_the_rest(tmp_path: Path, db_url: str) -> None:
    built = build_warc(tmp_path / "harbour.warc.gz")
    data = tmp_path / "data"

    result = invoke("import", str(built.path), data=data, db_url=db_url)

    assert result.returncode == exitcodes.PARTLY_FAILED, result.stderr  # records were skipped
    # records, captures (A, B, the revisit, C), known, articles (A, B, C), no article, skipped
    assert summary_row(result.stdout, "harbour.warc.gz") == ["harbour.warc.gz", "harbour-archive", "6", "4", "0", "3",
                                                             "0", "3"]
    copy = data / "warcs" / "harbour.warc.gz"
    assert copy.read_bytes() == built.path.read_bytes()  # copied, never rewritten
    problems = [line for line in result.stderr.splitlines() if "WARNING" in line]
    offsets = built.offsets
    assert len(problems) == 3
    assert f"{copy}: offset {offsets['garbage']}: unreadable" in problems[0]
    assert problems[0].endswith(f"resumed at offset {offsets['revisit']}")
    assert f"{copy}: offset {offsets['digest']}: block digest failed" in problems[1]
    assert f"{copy}: offset {offsets['cut']}: " in problems[2] and "bytes are missing" in problems[2]

    database = Database(db_url)
    with database.session() as s:
        [first, revisit] = catalog.captures_for_url(s, url(A))
        assert (first.warc_file, first.warc_offset, first.status, first.mime) == (copy.name, offsets["A"], 200, "text/html")
        assert first.url_key == "test,gazette)/2016/09/01/harbour-wall-repairs-begin"
        assert revisit.revisit_of == first.id and revisit.warc_offset == offsets["revisit"]
        assert revisit.payload_digest == first.payload_digest
        assert not catalog.captures_for_url(s, url(DIGEST_BROKEN)) and not catalog.captures_for_url(s, url(CUT))
        captures = s.query(type(first)).count()
        c_record_id = catalog.captures_for_url(s, url(C))[0].record_id
    database.dispose()
    index = (data / "indexes" / "harbour.cdxj").read_text()
    assert f'"offset": "{offsets["revisit"]}"' in index and '"mime": "warc/revisit"' in index

    # The revisit is the latest capture of A: replayed with A's payload, chunks and gzip removed.
    result = invoke("snapshot", url(A), "--decode", data=data, db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == html(A)
    assert result.stderr.startswith(f"20160920100000 200 revisit of #{first.id} harbour.warc.gz offset {offsets['revisit']}")
    result = invoke("article", url(C), "--json", data=data, db_url=db_url)
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert (article["title"], article["warc_file"], article["warc_offset"]) == (C.title, copy.name, offsets["C"])
    assert "volunteers offered to staff the extra hours" in article["text"]
    result = invoke("article", url(A), "--json", data=data, db_url=db_url)  # decoded from gzip in chunks
    assert result.returncode == 0 and json.loads(result.stdout)["title"] == A.title, result.stderr

    again = invoke("import", str(built.path), data=data, db_url=db_url)
    assert summary_row(again.stdout, "harbour.warc.gz") == ["harbour.warc.gz", "harbour-archive", "6", "0", "4", "0",
                                                            "0", "3"]
    # The copy, and our own file of the three articles' metadata records; the second import added neither.
    [ours] = [p for p in (data / "warcs").iterdir() if p.name != "harbour.warc.gz"]
    assert ours.name.startswith("harbour-archive-")
    metadata = [r for r in read_warcs(data / "warcs", ours.name) if r.type == "metadata"]
    assert sorted(r.url for r in metadata) == sorted(url(post) for post in (A, B, C))
    assert {r.warc_headers.get_header("WARC-Concurrent-To") for r in metadata if r.url == url(C)} == {c_record_id}
    assert metadata[0].fields["kind"] == "imported" and metadata[0].fields["warc_file"] == "harbour.warc.gz"
    database = Database(db_url)
    with database.session() as s:
        assert s.query(type(first)).count() == captures
        assert s.query(Article).count() == 3
    database.dispose()


def test_a_page_that_cannot_be_decoded_is_imported_as_no_article(tmp_path: Path, sqlite_url: str) -> None:
    """Its capture stays; its article row says why extraction failed; the other pages are extracted."""
    path = tmp_path / "mixed.warc.gz"
    broken = b"\x1f\x8b\x08\x00" + b"not really gzip" * 20
    records = [
        html_response(url(A), "2016-09-02T10:00:00Z", broken, (("Content-Encoding", "gzip"),)),
        html_response(url(B), "2016-09-06T10:00:00Z", html(B)),
    ]
    path.write_bytes(b"".join(record_bytes(record) for record in records))
    data = tmp_path / "data"

    result = invoke("import", str(path), data=data, db_url=sqlite_url)

    assert result.returncode == 0, result.stderr
    # records, captures, known, articles, no article, skipped
    assert summary_row(result.stdout, "mixed.warc.gz")[2:] == ["2", "2", "0", "1", "1", "0"]
    database = Database(sqlite_url)
    with database.session() as s:
        rows = {article.url: article for article in s.query(Article)}
        [capture] = catalog.captures_for_url(s, url(A))
    database.dispose()
    assert rows[url(B)].status == "ok" and rows[url(B)].title == B.title
    assert rows[url(A)].status == "failed" and rows[url(A)].capture_id == capture.id
    assert rows[url(A)].error.startswith(f"{url(A)}: corrupt gzip body"), rows[url(A)].error


def test_a_page_over_the_size_limit_is_not_extracted_even_in_chunks(tmp_path: Path, sqlite_url: str) -> None:
    """Only the first max_bytes of a payload are read: a chunked page cut there is not extracted
    as if it were whole once its chunk headers are gone."""
    limit = len(html(B)) + 200
    settings = tmp_path / "settings.toml"
    settings.write_text(f"[extract]\nmax_bytes = {limit}\n")
    path = tmp_path / "big.warc.gz"
    big = html(A) + b"<!-- padding -->" * 30  # over the limit by ~250 bytes, under it without chunk headers
    records = [
        html_response(url(A), "2016-09-02T10:00:00Z", chunked(big, 40), (("Transfer-Encoding", "chunked"),)),
        html_response(url(B), "2016-09-06T10:00:00Z", html(B)),
    ]
    path.write_bytes(b"".join(record_bytes(record) for record in records))

    result = run_syndicrawl("import", str(path), data_dir=tmp_path / "data", settings=settings,
                            env={"SYNDICRAWL_DATABASE_URL": sqlite_url})  # fmt: skip

    assert result.returncode == 0, result.stderr
    database = Database(sqlite_url)
    with database.session() as s:
        rows = {article.url: article for article in s.query(Article)}
    database.dispose()
    assert rows[url(B)].status == "ok"
    assert (rows[url(A)].status, rows[url(A)].error) == ("failed", f"{url(A)}: page too large to extract (over {limit} bytes)")


def test_import_keeps_other_files_of_the_same_name(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        built = build_warc(tmp_path / folder / "harbour.warc.gz")  # new record IDs: another file
        result = invoke("import", str(built.path), "--source", "harbour", data=data, db_url=db_url)
        assert result.returncode == exitcodes.PARTLY_FAILED, result.stderr
    imported = sorted(p.name for p in (data / "warcs").iterdir() if not re.search(r"-\d{20}-\d{5}\.warc\.gz$", p.name))
    assert imported == ["harbour-2.warc.gz", "harbour.warc.gz"]  # and our own files of metadata records
    assert (data / "warcs" / "harbour-2.warc.gz").read_bytes() == built.path.read_bytes()
    assert (data / "indexes" / "harbour-2.cdxj").exists()


def test_import_refuses_what_is_not_a_warc_file_before_copying(tmp_path: Path, sqlite_url: str) -> None:
    data = tmp_path / "data"
    notes = tmp_path / "notes.warc.gz"
    notes.write_bytes(b"just some notes\n")
    result = invoke("import", str(notes), data=data, db_url=sqlite_url)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Error: {notes}: no WARC record starts at offset 0")
    assert not (data / "warcs").exists()
    text = tmp_path / "page.html"
    text.write_text("<p>hi</p>")
    result = invoke("import", str(text), data=data, db_url=sqlite_url)
    assert result.returncode == 1
    assert result.stderr == f"Error: {text.name}: not a WARC or ARC file name (expected .warc.gz, .warc, .arc.gz, .arc)\n"


@pytest.fixture
def wget() -> str:
    found = shutil.which("wget")
    if found is None:
        message = "wget is not installed (apt-get install wget): the import of a wget WARC is not tested"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_import_of_a_wget_warc_joins_the_crawled_article_in_its_cluster(
    tmp_path: Path, db_url: str, wget: str, wordpress_server, fast_settings: Path
) -> None:
    """The gazette crawled; a copycat's repost of one article fetched by wget and imported: one cluster."""
    data = tmp_path / "data"
    env = {"SYNDICRAWL_DATABASE_URL": db_url}
    sources = write_sources(tmp_path / "sources.toml", [{"name": "gazette", "kind": "origin",
                                                         "feeds": [wordpress_server.url("/feed/")]}])
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=fast_settings, env=env)
    assert result.returncode == 0, result.stderr
    post = WORDPRESS_POSTS[-1]
    original = wordpress_server.site.permalink(post)
    with SiteServer(lambda base: blogger_site("Copycat Daily", [post], base_url=base)) as copycat:
        copy = copycat.site.permalink(post)
        fetched = subprocess.run([wget, "-q", "--no-warc-keep-log", f"--warc-file={tmp_path / 'copycat'}",
                                  "-O", os.devnull, copy], capture_output=True, text=True, timeout=60)
        assert fetched.returncode == 0, fetched.stderr
    warc = tmp_path / "copycat.warc.gz"
    assert verify_file(warc) == 5  # warcinfo, request, response, and wget's metadata and resource records

    result = run_syndicrawl("import", str(warc), "--source", "copycat", data_dir=data, settings=fast_settings, env=env)

    assert result.returncode == 0, result.stderr
    assert summary_row(result.stdout, "copycat.warc.gz") == ["copycat.warc.gz", "copycat", "5", "1", "0", "1", "0", "0"]
    result = run_syndicrawl("snapshot", copy, "--decode", data_dir=data, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == copycat.site.reply_for(copycat.site.path(post)).body
    result = run_syndicrawl("article", copy, "--json", data_dir=data, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["title"] == post.title
    result = run_syndicrawl("chain", copy, "--json", data_dir=data, env=env)
    assert result.returncode == 0, result.stderr
    root = json.loads(result.stdout)
    assert (root["url"], root["site"], root["relation"]) == (original, "gazette", "origin")
    assert [(child["url"], child["site"], child["relation"]) for child in root["children"]] == [
        (copy, "copycat", "copy")
    ]
    database = Database(db_url)
    with database.session() as s:
        placed = s.query(Article, Syndication).join(Syndication, Syndication.article_id == Article.id)
        clusters = {article.url: row.cluster_id for article, row in placed if article.url in {original, copy}}
    database.dispose()
    assert len(clusters) == 2 and len(set(clusters.values())) == 1


def test_archived_body_removes_chunks_and_keeps_a_body_stored_without_them() -> None:
    headers = [("Content-Type", "text/html; charset=UTF-8"), ("Transfer-Encoding", "chunked")]
    assert archived_body(headers, chunked(html(A), 100)).text(max_bytes=10**6) == html(A).decode()
    # Some tools store the body de-chunked and keep the header: it is read as it is, as replay tools read it.
    assert archived_body(headers, html(A)).text(max_bytes=10**6) == html(A).decode()


def test_a_file_compressed_whole_is_stored_a_gzip_member_per_record(tmp_path: Path, sqlite_url: str) -> None:
    """``gzip file.warc`` makes a valid WARC whose records cannot be read at an offset (#17: it
    crashed on a seek): stored recompressed, every record's bytes kept, all of it imported."""
    out = BytesIO()
    writer = WARCWriter(out, gzip=False, warc_version="WARC/1.1")
    writer.write_record(writer.create_warcinfo_record("whole.warc", {"isPartOf": "harbour archive"}))
    for post, date in ((A, "2016-09-02T10:00:00Z"), (B, "2016-09-06T10:00:00Z"), (C, "2016-09-19T10:00:00Z")):
        writer.write_record(html_response(url(post), date, html(post)))
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(gzip.compress(out.getvalue()))
    data = tmp_path / "data"

    result = invoke("import", str(path), data=data, db_url=sqlite_url)

    assert result.returncode == 0, result.stderr
    assert summary_row(result.stdout, "whole.warc.gz")[2:] == ["4", "3", "0", "3", "0", "0"]
    [line] = result.stderr.splitlines()
    assert line.endswith(f"WARNING {path}: one gzip member holds several records (the whole file compressed at once): "
                         "stored recompressed, a gzip member per record")  # fmt: skip
    copy = data / "warcs" / "whole.warc.gz"
    assert gzip.decompress(copy.read_bytes()) == out.getvalue() and verify_file(copy) == 4
    result = invoke("snapshot", url(C), "--decode", data=data, db_url=sqlite_url)
    assert result.returncode == 0 and result.stdout.encode() == html(C), result.stderr


def test_a_batch_goes_on_past_files_that_fail_and_leaves_none_of_them_behind(tmp_path: Path, sqlite_url: str) -> None:
    """#17: a gzip member holding two records in the middle of a file looped for ever (warcio's
    offsets there point back before it); a file that failed after its copy stayed in warcs/
    and stopped the batch."""
    pages = [html_response(f"{BASE}/page/{n}", "2016-09-02T10:00:00Z", html(A) + b"<!-- %d -->" % n) for n in range(14)]
    shared = tmp_path / "shared.warc.gz"
    members = [record_bytes(page) for page in pages[:12]]
    out = BytesIO()
    for page in pages[12:]:
        WARCWriter(out, gzip=False, warc_version="WARC/1.1").write_record(page)
    members.append(gzip.compress(out.getvalue()))
    members.append(record_bytes(html_response(url(B), "2016-09-06T10:00:00Z", html(B))))
    shared.write_bytes(b"".join(members))
    notes = tmp_path / "notes.warc.gz"
    notes.write_bytes(b"just some notes\n")
    request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "gazette.test")], is_http_request=True)
    orphan = tmp_path / "orphan.warc.gz"  # nothing to name its source after
    orphan.write_bytes(record_bytes(WARCWriter(BytesIO()).create_warc_record(
        f"{BASE}/", "request", payload=BytesIO(b""), length=0, http_headers=request)))  # fmt: skip
    data = tmp_path / "data"

    result = run_syndicrawl("import", str(notes), str(shared), str(orphan), data_dir=data,
                            env={"SYNDICRAWL_DATABASE_URL": sqlite_url}, timeout=120)  # fmt: skip

    assert result.returncode == exitcodes.PARTLY_FAILED, result.stderr
    copy = data / "warcs" / "shared.warc.gz"
    at = sum(len(member) for member in members[:12])
    assert result.stderr.splitlines() == [
        f"Error: {notes}: no WARC record starts at offset 0 (an offset from another file?): "
        "ArchiveLoadFailed: Unknown archive format, first line: ['just', 'some', 'notes']",
        result.stderr.splitlines()[1].split(" WARNING ")[0] + f" WARNING {copy}: offset {at}: several records in one "
        f"gzip member (`warcio recompress` gives each its own); resumed at offset {at + len(members[12])}",
        f"Error: {data / 'warcs' / 'orphan.warc.gz'}: no warcinfo isPartOf and no HTTP response to name the source "
        "after; give --source NAME",
    ]
    # records, captures (the 12 pages before the shared member and B after it), known, articles, no article, skipped
    assert summary_row(result.stdout, "shared.warc.gz")[2:] == ["13", "13", "0", "13", "0", "1"]
    assert sorted(p.name for p in (data / "warcs").glob("*.warc.gz") if not p.name.startswith("gazette.test-")) == [
        "shared.warc.gz"
    ]


def test_a_file_of_many_damaged_records_is_twenty_lines_and_a_count(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = [html_response(f"{BASE}/page/{n}", "2016-09-02T10:00:00Z", html(A), WARC_Block_Digest="sha1:AAAA")
           for n in range(30)]  # fmt: skip
    path = tmp_path / "bad.warc.gz"
    good = html_response(url(B), "2016-09-06T10:00:00Z", html(B))
    path.write_bytes(b"".join(record_bytes(record) for record in [*bad, good]))
    database = Database(sqlite_url)
    importer = Importer(database, tmp_path / "warcs", tmp_path / "indexes", extractor=None, max_bytes=10**6,
                        software="test", warc_max_size=10**9)  # fmt: skip

    report = importer.import_file(path, "bad")

    database.dispose()
    assert (report.records, report.captures, report.skipped) == (1, 1, 30)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == PROBLEM_LINES + 1 and all("block digest failed" in line for line in lines[:-1])
    assert lines[-1] == f"{tmp_path / 'warcs' / 'bad.warc.gz'}: {30 - PROBLEM_LINES} more records skipped"


# --- ARC ------------------------------------------------------------------------------

ARC_SPEC = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n"


def arc_record(header_url: str, date14: str, mime: str, block: bytes) -> bytes:
    """An ARC v1 record: a line of five fields (the last the block's length), the block, a newline."""
    return f"{header_url} 192.0.2.7 {date14} {mime} {len(block)}\n".encode() + block + b"\n"


def arc_page(post: Post, date14: str) -> bytes:
    http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n"
    return arc_record(url(post), date14, "text/html", http + html(post))


def build_arc(path: Path, *records: bytes) -> Path:
    """An ARC file as Heritrix wrote them: its file header first, a gzip member per record if ``.arc.gz``."""
    members = [arc_record(f"filedesc://{path.name}", "20161101120000", "text/plain", ARC_SPEC), *records]
    path.write_bytes(b"".join(gzip.compress(m, mtime=0) for m in members) if path.name.endswith(".gz")
                     else b"".join(members))
    return path


def test_an_arc_file_is_imported_as_warc(tmp_path: Path, db_url: str) -> None:
    """`import` refused .arc and .arc.gz; warcio reads ARC, so they are converted on the way in."""
    arc = build_arc(tmp_path / "IA-harbour.arc.gz", arc_page(A, "20161101120500"), arc_page(B, "20161101120600"))
    data = tmp_path / "data"

    result = invoke("import", str(arc), "--source", "harbour", data=data, db_url=db_url)

    assert result.returncode == 0, result.stderr
    # records (the warcinfo the file header became, A, B), captures, known, articles, no article, skipped
    assert summary_row(result.stdout, "IA-harbour.warc.gz") == ["IA-harbour.warc.gz", "harbour", "3", "2", "0", "2",
                                                                "0", "0"]
    assert f"  {arc} -> {data / 'warcs' / 'IA-harbour.warc.gz'}" in result.stdout
    records = read_warcs(data / "warcs", "IA-harbour.warc.gz")
    assert [(r.type, r.url) for r in records] == [("warcinfo", ""), ("response", url(A)), ("response", url(B))]
    assert records[1].warc_headers.get_header("WARC-Date") == "2016-11-01T12:05:00Z"
    assert records[1].warc_headers.get_header("WARC-IP-Address") == "192.0.2.7"
    assert verify_file(data / "warcs" / "IA-harbour.warc.gz") == 3  # digests and lengths written right
    assert sorted(p.name for p in (data / "warcs").iterdir() if not p.name.startswith("harbour-")) == [
        "IA-harbour.warc.gz"]  # no conversion left behind

    result = invoke("snapshot", url(B), "--decode", data=data, db_url=db_url)
    assert (result.returncode, result.stdout.encode()) == (0, html(B)), result.stderr
    assert result.stderr.startswith("20161101120600 200 response IA-harbour.warc.gz offset ")
    result = invoke("article", url(A), "--json", data=data, db_url=db_url)
    assert result.returncode == 0 and json.loads(result.stdout)["title"] == A.title, result.stderr

    again = invoke("import", str(arc), "--source", "harbour", data=data, db_url=db_url)
    assert again.returncode == 0, again.stderr  # converted to the same bytes: the same file, its records known
    assert summary_row(again.stdout, "IA-harbour.warc.gz")[2:5] == ["3", "0", "2"]


def test_an_uncompressed_arc_cut_short_keeps_its_whole_records(tmp_path: Path, sqlite_url: str) -> None:
    whole = arc_page(A, "20161101120500")
    arc = build_arc(tmp_path / "cut.arc", whole, arc_page(B, "20161101120600")[:300])
    data = tmp_path / "data"

    result = invoke("import", str(arc), "--source", "harbour", data=data, db_url=sqlite_url)

    assert result.returncode == exitcodes.PARTLY_FAILED, result.stderr
    assert summary_row(result.stdout, "cut.warc.gz")[2:4] == ["2", "1"]
    [problem] = [line for line in result.stderr.splitlines() if "WARNING" in line]
    offset = len(arc_record("filedesc://cut.arc", "20161101120000", "text/plain", ARC_SPEC)) + len(whole)
    assert problem.endswith(f"{arc}: offset {offset}: ARC record {len(arc_page(B, '20161101120600')) - 300 - 1} "
                            "of its 11189 bytes are missing (file cut short?); the rest of the file is not read")


def test_what_is_not_an_arc_file_is_refused_before_copying(tmp_path: Path, sqlite_url: str) -> None:
    data = tmp_path / "data"
    notes = tmp_path / "notes.arc"
    notes.write_bytes(b"just some notes\n")
    result = invoke("import", str(notes), data=data, db_url=sqlite_url)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"Error: {notes}: no ARC record at offset 0 (not an ARC file?)\n"
    assert not any((data / "warcs").iterdir())
