"""Reading back what a crawl wrote: every record of every WARC, with its stored bytes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders

from archive.records import iter_records


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
