"""``snapshot URL`` on a terminal: a gzip page dumped its raw bytes there; now text is shown decoded,
anything else refused with the way to save it."""

from __future__ import annotations

import gzip
import os
import pty
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.fixtures.cli import run_syndicrawl
from tests.warcs import html_response

PAGE = "http://gazette.test/2016/11/01/aleppo/"
IMAGE = "http://gazette.test/logo.png"
HTML = b"<!DOCTYPE html><html><head><title>Aleppo</title></head><body><p>The siege.</p></body></html>\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gzip-encoded page and an image, imported from a WARC file written here."""
    tmp = tmp_path_factory.mktemp("snapshot-terminal")
    warc = tmp / "gazette.warc.gz"
    with warc.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(html_response(PAGE, "2016-11-01T12:00:00Z", gzip.compress(HTML),
                                          (("Content-Encoding", "gzip"),)))
        http = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(IMAGE, "response", payload=BytesIO(PNG), length=len(PNG),
                                                      http_headers=http))
    result = run_syndicrawl("import", str(warc), "--source", "gazette", data_dir=tmp / "data")
    assert result.returncode == 0, result.stderr
    return tmp / "data"


def on_a_terminal(*args: str) -> tuple[int, bytes, str]:
    """Run ``syndicrawl ARGS`` with its stdout a terminal (a pty); return the code, the terminal's bytes, stderr."""
    main, child = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "syndicrawl", *args], stdout=child, stderr=subprocess.PIPE) as proc:
        os.close(child)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        stderr = proc.stderr.read().decode() if proc.stderr else ""
    os.close(main)
    return proc.returncode, shown.replace(b"\r\n", b"\n"), stderr


def test_a_gzip_page_is_shown_decoded_on_a_terminal(archive: Path) -> None:
    code, shown, stderr = on_a_terminal("snapshot", PAGE, "--data-dir", str(archive))
    assert code == 0, stderr
    assert shown == HTML


def test_a_binary_payload_is_refused_on_a_terminal(archive: Path) -> None:
    code, shown, stderr = on_a_terminal("snapshot", IMAGE, "--data-dir", str(archive))
    assert (code, shown) == (1, b"")
    assert stderr.endswith(f"Error: {IMAGE}: its payload is image/png, not text for a terminal; give --out FILE\n")


def test_a_pipe_still_gets_the_bytes_as_archived(archive: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "syndicrawl", "snapshot", PAGE, "--data-dir", str(archive)],
                            capture_output=True, check=False)
    assert result.returncode == 0 and gzip.decompress(result.stdout) == HTML
