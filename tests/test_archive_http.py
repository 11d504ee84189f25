"""Decoding archived bodies for extraction: content coding removed, then the charset Scrapy would use."""

from __future__ import annotations

import gzip
import zlib

import pytest

from archive.errors import ExtractionError
from archive.warc.http import decoded_body, header, response_text

PAGE = "<html><head><title>Café</title></head><body><p>Grüße aus Aleppo</p></body></html>"


def test_header_lookup_ignores_case_and_takes_the_first() -> None:
    headers = [("content-TYPE", "text/html"), ("Content-Type", "text/plain")]
    assert header(headers, "Content-Type") == "text/html"
    assert header(headers, "Location") is None


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda body: zlib.compress(body)[2:-4]),  # raw deflate, as some servers send it
        ("identity", lambda body: body),
    ],
)
def test_content_coding_is_removed(coding, encode) -> None:
    body = PAGE.encode("utf-8")
    assert decoded_body([("Content-Encoding", coding)], encode(body), max_bytes=10_000) == body


def test_stacked_codings_are_removed_last_first() -> None:
    body = PAGE.encode("utf-8")
    twice = zlib.compress(gzip.compress(body))
    assert decoded_body([("Content-Encoding", "gzip, deflate")], twice, max_bytes=10_000) == body


def test_charset_comes_from_the_header_then_the_page() -> None:
    latin = PAGE.encode("latin-1")
    assert response_text([("Content-Type", "text/html; charset=ISO-8859-1")], latin, max_bytes=10_000) == PAGE
    meta = f'<meta charset="iso-8859-1">{PAGE}'
    assert response_text([("Content-Type", "text/html")], meta.encode("latin-1"), max_bytes=10_000) == meta


def test_unknown_coding_corrupt_body_and_bomb_are_extraction_errors() -> None:
    with pytest.raises(ExtractionError, match="cannot decode Content-Encoding 'compress'"):
        decoded_body([("Content-Encoding", "compress")], b"x", max_bytes=100)
    damaged = bytearray(gzip.compress(bytes(range(256)) * 400))
    damaged[200:300] = b"\xff" * 100
    with pytest.raises(ExtractionError, match="corrupt gzip body"):
        decoded_body([("Content-Encoding", "gzip")], bytes(damaged), max_bytes=1_000_000)
    bomb = gzip.compress(b"\0" * 1_000_000)
    with pytest.raises(ExtractionError, match="over 100000 bytes once decoded"):
        decoded_body([("Content-Encoding", "gzip")], bomb, max_bytes=100_000)
