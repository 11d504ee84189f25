"""Tests for archive.warc.writer (the writer) and archive.warc.records (the reader), read back with warcio itself."""

from __future__ import annotations

import gzip
import json
import random
import string
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.errors import WarcError
from archive.warc.exchange import HttpExchange
from archive.warc.records import iter_records, read_record, verify_file
from archive.warc.writer import RevisitTarget, WarcWriter, payload_digest

WARCIO = Path(sys.executable).parent / "warcio"
# Random text, so that gzip cannot shrink it much and a few exchanges fill a small file.
HTML = f"<html><body><p>{''.join(random.Random(7).choices(string.ascii_letters, k=4000))}</p></body></html>".encode()
GZIP_BODY = gzip.compress(HTML, mtime=0)
FETCHED_AT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)


@dataclass
class Rec:
    """A record read back by warcio, payload included (test data is small)."""

    type: str
    warc: dict[str, str]
    http: list[tuple[str, str]] | None
    statusline: str | None
    payload: bytes
    offset: int


def read_all(path: Path) -> list[Rec]:
    records = []
    with path.open("rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            http = record.http_headers
            records.append(
                Rec(
                    type=record.rec_type,
                    warc=dict(record.rec_headers.headers),
                    http=list(http.headers) if http else None,
                    statusline=f"{http.protocol} {http.statusline}" if http else None,
                    payload=record.raw_stream.read(),
                    offset=iterator.get_record_offset(),
                )
            )
    return records


def exchange(url: str = "http://news.example/story?id=7", **changes: object) -> HttpExchange:
    base = HttpExchange(
        url=url,
        method="GET",
        request_headers=[("Host", "news.example"), ("Accept-Encoding", "gzip"), ("User-Agent", "syndicrawl-test")],
        request_body=b"",
        status=200,
        reason="OK",
        protocol="HTTP/1.1",
        response_headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "gzip"),
            ("Set-Cookie", "a=1; Path=/"),
            ("Content-Length", str(len(GZIP_BODY))),
            ("Set-Cookie", "b=2; Path=/"),
        ],
        body=GZIP_BODY,
        fetched_at=FETCHED_AT,
        ip_address="127.0.0.1",
    )
    return replace(base, **changes)


@pytest.fixture
def writer(tmp_path: Path) -> WarcWriter:
    return WarcWriter(tmp_path / "warcs", "test", info={"isPartOf": "news-example"})


def test_response_keeps_encoded_body_and_every_header(writer: WarcWriter) -> None:
    given = exchange()
    written = writer.write_exchange(given)
    [path] = writer.close()

    warcinfo, response, request = read_all(path)
    assert response.type == "response"
    assert response.payload == GZIP_BODY  # still gzip, byte for byte
    assert gzip.decompress(response.payload) == HTML
    assert response.statusline == "HTTP/1.1 200 OK"
    assert response.http == given.response_headers  # order and both Set-Cookie kept
    assert response.warc["WARC-Target-URI"] == given.url
    assert response.warc["WARC-Date"] == "2024-05-06T07:08:09.123456Z" == written.date
    assert response.warc["WARC-IP-Address"] == "127.0.0.1"
    assert response.warc["WARC-Protocol"] == "http/1.1"
    assert response.warc["WARC-Record-ID"] == written.record_id
    assert response.warc["WARC-Payload-Digest"] == payload_digest(GZIP_BODY) == written.payload_digest
    assert response.warc["WARC-Block-Digest"].startswith("sha1:")
    assert path.name.startswith("test-") and written.locator.filename == path.name

    assert request.type == "request"
    assert request.warc["WARC-Concurrent-To"] == written.record_id
    assert request.warc["WARC-Date"] == written.date
    assert request.statusline == "GET /story?id=7 HTTP/1.1"
    assert request.http == given.request_headers
    assert request.payload == b""


def test_chunked_response_is_stored_dechunked_with_its_length(writer: WarcWriter) -> None:
    headers = [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")]
    written = writer.write_exchange(exchange(response_headers=headers))
    [path] = writer.close()

    response = read_all(path)[1]
    assert response.http == [
        ("Content-Type", "text/html"),
        ("X-Archive-Orig-Transfer-Encoding", "chunked"),
        ("Content-Encoding", "gzip"),
        ("Content-Length", str(len(GZIP_BODY))),
    ]
    assert response.payload == GZIP_BODY
    with read_record(path, written.locator.offset) as record:  # decoded as the headers say, as replay does
        assert record.content_stream().read() == HTML


def test_chunked_response_with_a_stale_content_length(writer: WarcWriter) -> None:
    headers = [("Transfer-Encoding", "chunked"), ("Content-Length", "5")]
    writer.write_exchange(exchange(response_headers=headers, body=b"0123456789"))
    [path] = writer.close()

    assert read_all(path)[1].http == [
        ("X-Archive-Orig-Transfer-Encoding", "chunked"),
        ("X-Archive-Orig-Content-Length", "5"),
        ("Content-Length", "10"),
    ]


def test_http2_exchange_keeps_http1_message_syntax(writer: WarcWriter) -> None:
    writer.write_exchange(exchange(protocol="h2", ip_address=None))
    [path] = writer.close()

    _, response, request = read_all(path)
    assert response.warc["WARC-Protocol"] == "h2"
    assert response.statusline == "HTTP/1.1 200 OK"
    assert request.statusline == "GET /story?id=7 HTTP/1.1"
    assert "WARC-IP-Address" not in response.warc and "WARC-IP-Address" not in request.warc


def test_file_is_written_as_open_and_renamed_on_close(writer: WarcWriter, tmp_path: Path) -> None:
    directory = tmp_path / "warcs"
    assert not directory.exists()  # opened lazily

    written = writer.write_exchange(exchange())
    [open_file] = directory.iterdir()
    assert open_file.name == written.locator.filename + ".open"
    assert writer.closed_files == []
    assert len(read_all(open_file)) == 3  # flushed: readable while still open

    closed = writer.close()
    assert closed == writer.closed_files == [directory / written.locator.filename]
    assert list(directory.iterdir()) == closed
    assert writer.close() == closed


def test_warcinfo_is_first_and_describes_the_file(writer: WarcWriter) -> None:
    writer.write_exchange(exchange())
    [path] = writer.close()

    warcinfo = read_all(path)[0]
    assert warcinfo.type == "warcinfo"
    assert warcinfo.warc["WARC-Filename"] == path.name
    assert warcinfo.offset == 0
    fields = dict(line.split(": ", 1) for line in warcinfo.payload.decode().splitlines())
    assert fields["software"] == "syndicrawl"
    assert fields["format"] == "WARC File Format 1.1"
    assert "warc-1.1" in fields["conformsTo"]
    assert fields["hostname"]
    assert fields["isPartOf"] == "news-example"


def test_rotation_keeps_each_pair_in_one_file_behind_a_warcinfo(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "rot", max_size=1)
    urls = [f"http://news.example/{n}" for n in range(3)]
    written = [writer.write_exchange(exchange(url)) for url in urls]
    paths = writer.close()

    assert [p.name.rsplit("-", 1)[1] for p in paths] == ["00000.warc.gz", "00001.warc.gz", "00002.warc.gz"]
    assert [w.locator.filename for w in written] == [p.name for p in paths]
    for path, url, record in zip(paths, urls, written):
        warcinfo, response, request = read_all(path)
        assert warcinfo.type == "warcinfo"
        assert (response.type, response.warc["WARC-Target-URI"]) == ("response", url)
        assert request.warc["WARC-Concurrent-To"] == response.warc["WARC-Record-ID"] == record.record_id


def test_small_records_share_a_file_until_max_size(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "rot", max_size=10_000)
    for n in range(8):
        writer.write_exchange(exchange(f"http://news.example/{n}"))
    paths = writer.close()

    assert 1 < len(paths) < 8
    for path in paths[:-1]:  # each file was below max_size before its last pair, and reached it after
        last_response = [r for r in read_all(path) if r.type == "response"][-1]
        assert last_response.offset < 10_000 <= path.stat().st_size
    assert sum(len(read_all(path)) - 1 for path in paths) == 16


def test_revisit_points_to_the_original_and_has_no_payload(writer: WarcWriter) -> None:
    original = writer.write_exchange(exchange())
    later = exchange(fetched_at=datetime(2024, 6, 1, tzinfo=timezone.utc))
    target = RevisitTarget(uri=later.url, date=original.date, record_id=original.record_id)
    revisit = writer.write_exchange(later, revisit_of=target)
    [path] = writer.close()

    records = read_all(path)
    assert [r.type for r in records] == ["warcinfo", "response", "request", "revisit", "request"]
    rec = records[3]
    assert rec.warc["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert rec.warc["WARC-Refers-To-Target-URI"] == later.url
    assert rec.warc["WARC-Refers-To-Date"] == original.date
    assert rec.warc["WARC-Refers-To"] == original.record_id
    assert rec.warc["WARC-Payload-Digest"] == original.payload_digest == revisit.payload_digest
    assert rec.warc["WARC-Date"] == revisit.date == "2024-06-01T00:00:00.000000Z"
    assert rec.http == later.response_headers
    assert rec.payload == b""
    assert records[4].warc["WARC-Concurrent-To"] == revisit.record_id


def test_revisit_without_a_known_record_id(writer: WarcWriter) -> None:
    target = RevisitTarget(uri="http://news.example/old", date="2024-01-01T00:00:00.000000Z", record_id=None)
    writer.write_exchange(exchange(), revisit_of=target)
    [path] = writer.close()

    rec = read_all(path)[1]
    assert rec.type == "revisit"
    assert "WARC-Refers-To" not in rec.warc
    assert rec.warc["WARC-Refers-To-Target-URI"] == "http://news.example/old"


def test_metadata_record_is_sorted_warc_fields_concurrent_to_the_response(writer: WarcWriter) -> None:
    response = writer.write_exchange(exchange())
    fields = {"title": "Café\nau lait", "feed": "f1", "n": 3, "gone": None, "extraction": {"chars": 5, "ok": True}}
    meta = writer.write_metadata(exchange().url, response.record_id, fields)
    [path] = writer.close()

    rec = read_all(path)[3]
    assert rec.type == "metadata"
    # warc-fields, as Heritrix writes: replay indexers skip these, so they never replay instead of the page.
    assert rec.warc["Content-Type"] == "application/warc-fields"
    assert rec.warc["WARC-Target-URI"] == exchange().url
    assert rec.warc["WARC-Concurrent-To"] == response.record_id
    assert rec.warc["WARC-Record-ID"] == meta.record_id
    assert rec.payload == "extraction-chars: 5\r\nextraction-ok: true\r\nfeed: f1\r\nn: 3\r\ntitle: Café au lait\r\n".encode()


def test_metadata_that_is_not_json_raises_before_writing(writer: WarcWriter) -> None:
    with pytest.raises(WarcError, match="not JSON-serialisable"):
        writer.write_metadata("http://news.example/", "<urn:uuid:x>", {"when": datetime.now(timezone.utc)})
    assert writer.close() == []


def test_locators_lead_to_their_records(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "loc", max_size=6_000)
    written = [writer.write_exchange(exchange(f"http://news.example/{n}")) for n in range(4)]
    written.append(writer.write_metadata("http://news.example/3", written[-1].record_id, {"k": "v"}))
    writer.close()

    spans = {
        (path.name, offset): length for path in writer.closed_files for _, offset, length in iter_records(path)
    }
    for record in written:
        locator = record.locator
        assert spans[(locator.filename, locator.offset)] == locator.length
        with read_record(tmp_path / locator.filename, locator.offset) as loaded:
            assert loaded.rec_headers.get_header("WARC-Record-ID") == record.record_id
    with read_record(tmp_path / written[0].locator.filename, written[0].locator.offset) as loaded:
        assert loaded.content_stream().read() == HTML


def test_a_record_read_in_one_piece_by_its_indexed_length_is_the_same_record(writer: WarcWriter) -> None:
    gzipped = writer.write_exchange(exchange())
    plain = writer.write_exchange(
        exchange(body=HTML, response_headers=[("Content-Type", "text/html"), ("Content-Length", str(len(HTML)))])
    )
    [path] = writer.close()

    for written in (gzipped, plain):
        offset, length = written.locator.offset, written.locator.length
        with read_record(path, offset) as streamed, read_record(path, offset, length) as whole:
            assert whole.rec_headers.headers == streamed.rec_headers.headers
            assert whole.http_headers.headers == streamed.http_headers.headers
            assert whole.raw_stream.read() == streamed.raw_stream.read()
        with read_record(path, offset, length) as whole:
            assert whole.content_stream().read() == HTML


def test_a_record_cut_short_in_one_piece_reads_raise_with_file_and_offset(writer: WarcWriter) -> None:
    written = writer.write_exchange(exchange())
    [path] = writer.close()

    with pytest.raises(WarcError, match=rf"{path.name}: the record at offset {written.locator.offset} is damaged"):
        with read_record(path, written.locator.offset, written.locator.length - 10):
            pass


def test_iter_records_yields_unread_records_with_warcio_offsets(writer: WarcWriter) -> None:
    writer.write_exchange(exchange())
    writer.write_exchange(exchange(), revisit_of=RevisitTarget("http://news.example/", "2024-01-01T00:00:00Z", None))
    [path] = writer.close()

    got = [(r.rec_type, offset, length, r.raw_stream.read()) for r, offset, length in iter_records(path)]
    expected = read_all(path)
    assert [(t, o) for t, o, _, _ in got] == [(r.type, r.offset) for r in expected]
    assert [p for *_, p in got] == [r.payload for r in expected]
    ends = [o + n for _, o, n, _ in got]
    assert ends[:-1] == [o for _, o, _, _ in got[1:]] and ends[-1] == path.stat().st_size


def test_read_record_at_a_wrong_offset_raises(writer: WarcWriter) -> None:
    written = writer.write_exchange(exchange())
    [path] = writer.close()

    with pytest.raises(WarcError, match=rf"offset {written.locator.offset + 1}"):
        with read_record(path, written.locator.offset + 1):
            pass
    with pytest.raises(WarcError, match="end of file"):
        with read_record(path, path.stat().st_size):
            pass


def test_warcio_check_and_index_accept_every_file(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "cli", max_size=6_000)
    for n in range(3):
        first = writer.write_exchange(exchange(f"http://news.example/{n}"))
        writer.write_metadata(first.locator.filename, first.record_id, {"n": n})
        writer.write_exchange(
            exchange(f"http://news.example/{n}", response_headers=[("Transfer-Encoding", "chunked")]),
            revisit_of=RevisitTarget(f"http://news.example/{n}", first.date, first.record_id),
        )
    writer.write_exchange(  # a header warcio percent-encodes, and the digest the caller computed
        exchange("http://news.example/caf%C3%A9", response_headers=[("Link", "<http://news.example/café>")]),
        digest=payload_digest(GZIP_BODY),
    )
    paths = [str(p) for p in writer.close()]
    assert len(paths) > 1

    check = subprocess.run([WARCIO, "check", "-v", *paths], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == sum(len(read_all(Path(p))) for p in paths) - 3
    index = subprocess.run([WARCIO, "index", *paths], capture_output=True, text=True, check=False)
    assert index.returncode == 0, index.stderr
    assert [json.loads(line)["warc-type"] for line in index.stdout.splitlines()].count("response") == 4


def test_verify_file_counts_the_records(writer: WarcWriter) -> None:
    writer.write_exchange(exchange())
    writer.write_metadata("http://news.example/", "<urn:uuid:x>", {})
    [path] = writer.close()

    assert verify_file(path) == 4


# Each case: where to cut the file, and which record verify_file must name (0: response, 1: its request).
TRUNCATIONS = {
    "mid-body of the response": (lambda loc, size: loc.offset + loc.length // 2, 0),
    "last member's gzip trailer": (lambda loc, size: size - 1, 1),
    "middle of the last member": (lambda loc, size: size - 60, 1),
    "gzip header of the last member": (lambda loc, size: loc.offset + loc.length + 10, 1),
}


@pytest.mark.parametrize("where", TRUNCATIONS)
def test_verify_file_finds_a_truncated_file(writer: WarcWriter, tmp_path: Path, where: str) -> None:
    cut, damaged_record = TRUNCATIONS[where]
    locator = writer.write_exchange(exchange()).locator
    [path] = writer.close()
    data = path.read_bytes()
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(data[: cut(locator, len(data))])
    offset = [locator.offset, locator.offset + locator.length][damaged_record]

    with pytest.raises(WarcError, match=rf"damaged\.warc\.gz: .* offset {offset}\b"):
        verify_file(damaged)


def test_verify_file_finds_a_corrupted_payload(writer: WarcWriter, tmp_path: Path) -> None:
    writer.write_exchange(exchange(body=b"plain text body", response_headers=[]))
    [path] = writer.close()
    # Uncompressed, so one byte can change without breaking the gzip layer first.
    whole = tmp_path / "whole.warc"
    whole.write_bytes(gzip.decompress(path.read_bytes()))
    damaged = tmp_path / "damaged.warc"
    damaged.write_bytes(whole.read_bytes().replace(b"plain text body", b"plain text BODY"))
    response_offset = read_all(whole)[1].offset

    assert verify_file(whole) == 3
    with pytest.raises(WarcError, match=rf"offset {response_offset}: .*payload digest failed"):
        verify_file(damaged)


def test_verify_file_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(WarcError, match="missing.warc.gz"):
        verify_file(tmp_path / "missing.warc.gz")
