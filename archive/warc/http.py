"""An archived HTTP response's body as a reader sees it: content coding removed, then text.

The WARC keeps the body as the server sent it (gzip and all); extraction needs it decoded.
zlib removes gzip and deflate (and ``brotli`` br, when installed), with a limit on the
decoded size; w3lib finds the charset the way Scrapy does (HTTP header, then BOM and
``<meta>``). Not warcio's decompressing reader: it passes a body that fails to decode
through as if it were not compressed, and reports damage half way on stderr, not to us.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from io import BytesIO
from typing import Any, NamedTuple

from w3lib.encoding import html_to_unicode
from warcio.bufferedreaders import ChunkedDataReader

from archive.errors import ExtractionError


def header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (any case), or None."""
    name = name.lower()
    return next((value for key, value in headers if key.lower() == name), None)


def decoded_body(headers: Sequence[tuple[str, str]], body: bytes, *, max_bytes: int) -> bytes:
    """``body`` without its Content-Encoding; at most ``max_bytes`` decoded bytes (a gzip bomb stops there)."""
    codings = [c.strip().lower() for c in (header(headers, "Content-Encoding") or "").split(",")]
    for coding in reversed([c for c in codings if c and c != "identity"]):
        decompressor = _decompressor(coding, body)
        try:
            decoded = decompressor.decompress(body, max_bytes + 1)
        except Exception as exc:  # zlib.error, brotli.error: a corrupt body
            raise ExtractionError(f"corrupt {coding} body: {exc}") from exc
        if len(decoded) > max_bytes:
            raise ExtractionError(f"page too large to extract (over {max_bytes} bytes once decoded)")
        body = decoded
    return body


def _decompressor(coding: str, body: bytes) -> Any:
    if coding in {"gzip", "x-gzip"}:
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":  # zlib-wrapped as the RFC says, or raw as some servers send it
        return zlib.decompressobj(zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS)
    if coding == "br":
        try:
            import brotli  # optional, as for Scrapy: only then does the crawler ask for br
        except ImportError:
            pass
        else:
            return brotli.Decompressor()
    raise ExtractionError(f"cannot decode Content-Encoding {coding!r}")


def response_text(headers: Sequence[tuple[str, str]], body: bytes, *, max_bytes: int) -> str:
    """The body decoded to text with the charset Scrapy would pick."""
    _, text = html_to_unicode(header(headers, "Content-Type"), decoded_body(headers, body, max_bytes=max_bytes))
    return text


class HttpBody(NamedTuple):
    """A response body as fetched, with the headers that say how to decode it (``text``).

    What the archive writer sends an extractor worker instead of the decoded page: bytes
    cross a pipe as they are, while a text of 125 KB costs 0.2 ms to pickle and unpickle
    (UTF-8 both ways), and the worker decodes it instead of the writer.
    """

    headers: Sequence[tuple[str, str]]
    body: bytes

    def text(self, *, max_bytes: int) -> str:
        return response_text(self.headers, self.body, max_bytes=max_bytes)


def archived_body(headers: Sequence[tuple[str, str]], payload: bytes) -> HttpBody:
    """A WARC record's payload as fetched, without a chunked transfer coding.

    WARC files keep bodies as they came off the wire, and other tools (wget, Heritrix) keep
    the chunks too; syndicrawl's own records never hold a chunked body (``archive.warc.writer``
    renames the header), so their payloads pass unchanged. A payload that is not in chunks
    passes unchanged too (warcio's reader, as replay tools read it): some tools store the
    body de-chunked and keep the header.
    """
    codings = (header(headers, "Transfer-Encoding") or "").lower()
    if "chunked" in codings:
        payload = ChunkedDataReader(BytesIO(payload)).read()
    return HttpBody(headers, payload)
