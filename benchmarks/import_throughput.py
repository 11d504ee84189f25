"""Import throughput: ``syndicrawl import`` against ``warcio index`` on the same WARC file.

Builds a WARC the way a crawler would have written it, from the real pages in
``/work/shared/corpus/pages``: each page's response and request records, a revisit of each
page, and many small non-HTML responses (JSON, CSS) with their requests. Then it times, each
as a subprocess of the real CLI on a fresh data directory:

  (i)   ``warcio index FILE`` (warcio's reader, every record parsed, nothing stored);
  (ii)  ``syndicrawl import FILE`` with extraction off: copy, scan with checks, CDXJ, captures;
  (iii) ``syndicrawl import FILE`` with extraction on: (ii) plus trafilatura and matching.

    .venv/bin/python benchmarks/import_throughput.py [--small 1500] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.warc.writer import payload_digest

BIN = Path(sys.executable).parent


def build(path: Path, corpus: Path, small: int) -> int:
    """Write the WARC; return its record count."""
    count = 0
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="WARC/1.1")

        def write(url: str, body: bytes, content_type: str, date: str) -> None:
            nonlocal count
            http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                               warc_headers_dict={"WARC-Date": date}, http_headers=http)
            request = StatusAndHeaders(f"GET /{url.split('/', 3)[3]} HTTP/1.1", [("Host", "bench.test")],
                                       is_http_request=True)
            writer.write_request_response_pair(
                writer.create_warc_record(url, "request", http_headers=request, warc_headers_dict={"WARC-Date": date}),
                record,
            )
            count += 2

        writer.write_record(writer.create_warcinfo_record(path.name, {"isPartOf": "bench"}))
        count += 1
        pages = sorted(corpus.glob("*.html"))
        for number, page in enumerate(pages):
            write(f"http://bench.test/{page.stem}/", page.read_bytes(), "text/html; charset=utf-8",
                  f"2024-01-01T00:{number // 60:02d}:{number % 60:02d}Z")
        for number in range(small):
            write(f"http://bench.test/api/{number}.json", b'{"n": %d}' % number, "application/json",
                  "2024-01-02T00:00:00Z")
        for number, page in enumerate(pages):  # the same pages a day later: revisits
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_revisit_record(
                f"http://bench.test/{page.stem}/", payload_digest(page.read_bytes()), f"http://bench.test/{page.stem}/",
                f"2024-01-01T00:{number // 60:02d}:{number % 60:02d}Z", http_headers=http,
                warc_headers_dict={"WARC-Date": "2024-01-03T00:00:00Z"}))
            count += 1
    return count


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1500, help="small non-HTML responses (each with a request)")
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus/pages"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        warc = work / "bench.warc.gz"
        records = build(warc, args.corpus, args.small)
        print(f"{warc.name}: {records} records, {warc.stat().st_size / 1e6:.1f} MB")
        off = work / "off.toml"
        off.write_text("[extract]\nenabled = false\n")
        runs = [
            ("warcio index", [str(BIN / "warcio"), "index", str(warc)]),
            ("import, extraction off", [str(BIN / "syndicrawl"), "import", str(warc), "--data-dir", str(work / "a"),
                                        "--settings", str(off)]),
            ("import, extraction on", [str(BIN / "syndicrawl"), "import", str(warc), "--data-dir", str(work / "b")]),
        ]
        for name, command in runs:
            seconds = timed(command)
            print(f"{name:24} {seconds:6.2f} s  {records / seconds:7.0f} records/s")


if __name__ == "__main__":
    main()
