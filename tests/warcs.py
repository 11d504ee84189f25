"""Reading back what a crawl wrote: every record of every WARC, with its stored bytes."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.warc.records import iter_records


@dataclass
class Record:
    type: str
    url: str
    warc_headers: StatusAndHeaders
    http_headers: StatusAndHeaders | None
    body: bytes  # as stored: still content-encoded

    @property
    def fields(self) -> dict[str, str]:
        """A metadata record's ``application/warc-fields`` body (no field repeats in ours)."""
        lines = self.body.decode().split("\r\n")
        assert lines[-1] == ""
        return dict(line.split(": ", 1) for line in lines[:-1])


def read_warcs(warc_dir: Path, pattern: str = "*.warc.gz") -> list[Record]:
    records = []
    for path in sorted(warc_dir.glob(pattern)):
        for record, _, _ in iter_records(path):
            records.append(
                Record(
                    type=record.rec_type,
                    url=record.rec_headers.get_header("WARC-Target-URI") or "",
                    warc_headers=record.rec_headers,
                    http_headers=record.http_headers,
                    body=record.raw_stream.read(),
                )
            )
    return records


def only(records: list[Record], rec_type: str, url: str) -> Record:
    found = [r for r in records if r.type == rec_type and r.url == url]
    assert len(found) == 1, f"{len(found)} {rec_type} records for {url}"
    return found[0]


def html_response(url: str, date: str, body: bytes, headers: tuple[tuple[str, str], ...] = (),
                  **warc_headers: str) -> ArcWarcRecord:
    """A warcio response record of an HTML page, as another tool would write it; ``WARC_Block_Digest="..."``
    style keywords add or override WARC headers."""
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=UTF-8"), *headers], protocol="HTTP/1.1")
    fields = {"WARC-Date": date, **{name.replace("_", "-"): value for name, value in warc_headers.items()}}
    return WARCWriter(BytesIO(), warc_version="WARC/1.1").create_warc_record(
        url, "response", payload=BytesIO(body), length=len(body), warc_headers_dict=fields, http_headers=http
    )


def record_bytes(record: ArcWarcRecord) -> bytes:
    """A record as one gzip member, as every WARC writer writes them."""
    out = BytesIO()
    WARCWriter(out, gzip=True, warc_version="WARC/1.1").write_record(record)
    return out.getvalue()
