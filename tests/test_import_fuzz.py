"""Fuzzing ``import`` (#17): a thousand damaged WARC files, none of which loops, crashes or floods the log.

Each input is a small WARC written by warcio (a warcinfo and three HTML responses) in one of
three layouts: a gzip member per record, uncompressed, or the whole file in one gzip member;
then damaged: records removed, duplicated, given a wrong Content-Length or broken WARC
headers, bytes flipped, inserted, deleted, the file cut short. Every input is imported
in-process into one archive. The records wholly before the first damaged byte must be stored
and read back; the rest may be skipped, each with a warning line naming the file and offset.
"""

from __future__ import annotations

import gzip
import logging
import re
import signal
import time
from dataclasses import dataclass, field
from io import BytesIO
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.warcwriter import WARCWriter

from archive.db import catalog
from archive.db.engine import Database
from archive.errors import SyndicrawlError
from archive.ingest.importer import PROBLEM_LINES, Importer
from archive.warc.records import read_record
from tests.warcs import html_response

if TYPE_CHECKING:
    from pathlib import Path

    from warcio.recordloader import ArcWarcRecord

EXAMPLES = 1000
#: Seconds an import of one of these 5 KB files may take before it counts as a loop.
LOOP = 20.0
LAYOUTS = ("members", "plain", "whole")
HEADER_DAMAGE = {
    "version": (rb"^WARC/1\.1", b"WARC/x.y"),
    "type": (rb"WARC-Type: \w+", b"WARC-Type:"),
    "date": (rb"WARC-Date: [^\r]+", b"WARC-Date: yesterday"),
    "record-id": (rb"WARC-Record-ID: [^\r]+\r\n", b""),
    "target": (rb"WARC-Target-URI: [^\r]+", b"WARC-Target-URI: http://[bad"),
    "no-length": (rb"Content-Length: \d+\r\n", b""),
    "colon": (rb"WARC-Type:", b"WARC-Type"),
}


def body(number: int, page: int) -> bytes:
    """A page of about 1.2 KB that gzip does not shrink to nothing (a member then spans several reads)."""
    words = " ".join(f"w{(number * 7919 + page * 104729 + i * i) % 100003:x}" for i in range(150))
    return f"<html><head><title>Page {page}</title></head><body><p>{words}</p></body></html>".encode()


def base_records(number: int) -> list[tuple[ArcWarcRecord, bytes | None]]:
    """The records of input ``number``, with IDs of their own (so each input's are new to the archive)."""
    writer = WARCWriter(BytesIO(), warc_version="WARC/1.1")
    info = writer.create_warcinfo_record(f"fuzz-{number}.warc.gz", {"software": "warcio", "isPartOf": "fuzz"})
    info.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:00000000-0000-4000-8000-{number:08x}0000>")
    info.rec_headers.replace_header("WARC-Date", "2020-01-01T00:00:00Z")
    records: list[tuple[ArcWarcRecord, bytes | None]] = [(info, None)]
    for page in range(1, 4):
        payload = body(number, page)
        record_id = f"<urn:uuid:00000000-0000-4000-8000-{number:08x}{page:04x}>"
        response = html_response(f"http://fuzz.test/{page}", f"2020-01-0{page}T00:00:00Z", payload,
                                 WARC_Record_ID=record_id)  # fmt: skip
        records.append((response, payload))
    return records


def serialised(record: ArcWarcRecord) -> bytes:
    out = BytesIO()
    WARCWriter(out, gzip=False, warc_version="WARC/1.1").write_record(record)
    return out.getvalue()


structural = st.one_of(
    st.tuples(st.just("remove"), st.integers(0, 3)),
    st.tuples(st.just("duplicate"), st.integers(0, 3), st.integers(0, 4)),
    st.tuples(st.just("length"), st.integers(0, 3), st.integers(-60, 60).filter(bool)),
    st.tuples(st.just("header"), st.integers(0, 3), st.sampled_from(sorted(HEADER_DAMAGE))),
)
byte_level = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**16), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(0, 2**16)),
    st.tuples(st.just("insert"), st.integers(0, 2**16), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.integers(0, 2**16), st.integers(1, 600)),
)


@dataclass
class Case:
    layout: str
    damage: list[tuple[object, ...]]
    named: bool  # --source given


cases = st.builds(
    Case,
    layout=st.sampled_from(LAYOUTS),
    damage=st.lists(st.one_of(structural, byte_level), min_size=1, max_size=3),
    named=st.booleans(),
)


def damaged_file(case: Case, number: int) -> tuple[bytes, dict[str, bytes]]:
    """The input's bytes, and the records expected back: {record ID: payload} of the responses
    wholly before the first damaged byte."""
    records = [(record, payload, serialised(record)) for record, payload in base_records(number)]
    first_changed = len(records)  # the first record (by position) whose bytes were changed or moved
    for kind, *args in (d for d in case.damage if d[0] in {"remove", "duplicate", "length", "header"}):
        index = int(args[0]) % len(records) if records else 0
        if kind == "remove" and records:
            del records[index]
        elif kind == "duplicate" and records:
            copy, index = records[index], int(args[1]) % (len(records) + 1)
            records.insert(index, copy)
        elif kind in {"length", "header"} and records:
            record, payload, data = records[index]
            head, _, rest = data.partition(b"\r\n\r\n")
            if kind == "length":
                delta = int(args[1])
                head = re.sub(rb"Content-Length: (\d+)", lambda m: b"Content-Length: %d" % max(0, int(m[1]) + delta), head)
            else:
                pattern, replacement = HEADER_DAMAGE[str(args[1])]
                head = re.sub(pattern, replacement, head, count=1)
            records[index] = (record, payload, head + b"\r\n\r\n" + rest)
        first_changed = min(first_changed, index)
    if case.layout == "whole":
        data = gzip.compress(b"".join(r[2] for r in records), mtime=0)
        ends = [len(data)] * len(records)  # where damage to a deflate stream begins to show is not known
    else:
        pieces = [gzip.compress(r[2], mtime=0) if case.layout == "members" else r[2] for r in records]
        data = b"".join(pieces)
        ends = [sum(len(p) for p in pieces[: i + 1]) for i in range(len(pieces))]
    clean = len(data)  # bytes before this offset are as written
    for kind, *args in (d for d in case.damage if d[0] in {"flip", "cut", "insert", "delete"}):
        at = int(args[0]) % max(len(data), 1)
        if kind == "flip" and data:
            data = data[:at] + bytes([data[at] ^ (1 << int(args[1]))]) + data[at + 1 :]
        elif kind == "cut":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + bytes(args[1]) + data[at:]  # type: ignore[call-overload]
        elif kind == "delete":
            data = data[:at] + data[at + int(args[1]) :]
        clean = min(clean, at)
    expected = {
        record.rec_headers.get_header("WARC-Record-ID"): payload
        for i, (record, payload, _) in enumerate(records)
        if payload is not None and i < first_changed and ends[i] <= clean
    }
    return data, expected


@dataclass
class Figures:
    inputs: int = 0
    refused: int = 0
    skipped: int = 0
    seconds: float = 0.0
    lines: int = 0
    layouts: dict[str, int] = field(default_factory=dict)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _loop(signum: int, frame: object) -> None:
    raise TimeoutError(f"an import ran over {LOOP} s: a loop?")


def test_import_of_damaged_warcs_never_loops_crashes_or_floods(
    tmp_path: Path, sqlite_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    db = Database(sqlite_url)
    importer = Importer(db, data / "warcs", data / "indexes", extractor=None, max_bytes=10**6,
                        software="fuzz", warc_max_size=10**9)  # fmt: skip
    figures = Figures()
    handler = _Lines()
    logging.getLogger().addHandler(handler)
    previous = signal.signal(signal.SIGALRM, _loop)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(case=cases)
    def imports(case: Case) -> None:
        figures.inputs += 1
        number = figures.inputs
        content, expected = damaged_file(case, number)
        path = tmp_path / f"fuzz-{number}.warc.gz"
        path.write_bytes(content)
        handler.lines.clear()
        started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, LOOP)
        try:
            report = importer.import_file(path, "fuzz" if case.named else None)
        except SyndicrawlError as exc:  # refused: one line naming the file; nothing left behind
            report = None
            assert "\n" not in str(exc) and path.name in str(exc), str(exc)
            assert not expected, f"refused, with whole records before the damage: {exc}"
            assert not [p for p in (data / "warcs").glob(f"fuzz-{number}*")], "a refused file was left in warcs/"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        figures.seconds = max(figures.seconds, time.monotonic() - started)
        figures.layouts[case.layout] = figures.layouts.get(case.layout, 0) + 1
        lines = handler.lines
        assert len(lines) <= PROBLEM_LINES + 3, lines[:5]  # the skipped, a count, recompressed, not indexed
        assert all(path.name in line or f"fuzz-{number}" in line for line in lines), lines
        figures.lines = max(figures.lines, len(lines))
        if report is None:
            figures.refused += 1
            return
        figures.skipped += report.skipped > 0
        with db.session() as s:
            stored = catalog.captures_by_record_id(s, list(expected))
        assert sorted(stored) == sorted(expected), f"records before the damage not stored: {case}"
        for record_id, payload in expected.items():
            row = stored[record_id]
            with read_record(data / "warcs" / row.warc_file, row.warc_offset, row.warc_length) as record:
                assert record.rec_headers.get_header("WARC-Record-ID") == record_id
                assert record.content_stream().read() == payload

    try:
        imports()
    finally:
        signal.signal(signal.SIGALRM, previous)
        logging.getLogger().removeHandler(handler)
        db.dispose()
    # Nothing but the log lines counted above: warcio writes some warnings to stderr itself.
    assert capfd.readouterr().err == ""
    with capfd.disabled():
        print(f"\nimport fuzz: {figures}")  # the figures #17 asks for (pytest -s)
    assert figures.inputs >= EXAMPLES
    assert figures.seconds < LOOP
    # The inputs are damaged in earnest: many lose records, some whole files.
    assert figures.skipped > EXAMPLES // 3 and 0 < figures.refused < EXAMPLES // 2, figures
