"""The read-only HTTP API as a WSGI application: CDX server, Memento, raw replay, articles and chains.

Routes (pywb's where pywb has one, without a collection name):

- ``/cdx?url=...``: pywb's CDX server API (``archive.lookup.cdx``), in pywb's output formats
  (``archive.lookup.cdx_formats``).
- ``/timemap/link/URL``: Memento TimeMap (RFC 7089) in ``application/link-format``.
- ``/timemap/json/URL``: pywb's JSON TimeMap, the URL's CDX rows as ``output=json`` gives them.
- ``/timegate/URL``: Memento TimeGate: 302 to the memento nearest ``Accept-Datetime``.
- ``/TIMESTAMPid_/URL`` (or ``/id_/URL`` for the latest): the capture nearest TIMESTAMP with
  its archived status and payload, bytes as archived, plus Memento headers. Archived headers
  that would act on this server's origin or its client (cookies, CORS, redirects, policies)
  are renamed ``X-Archive-Orig-<Name>``, and a sandboxing Content-Security-Policy keeps the
  archived page's scripts away from the archive's origin (``_replay_headers``).
- ``/api/article?url=``, ``/api/chain?url=``: what ``syndicrawl article --json`` and
  ``syndicrawl chain --json`` print.

Plain WSGI keeps the archive free of any web framework; ``syndicrawl serve`` runs it under
waitress (HTTP/1.1 keep-alive, TCP_NODELAY). waitress closes the connection after a chunked
reply, so every answer up to 64 KiB goes out whole with a Content-Length and keeps the
connection open; only longer CDX answers are streamed in chunks.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qs, quote
from wsgiref.util import application_uri

from archive.db import catalog
from archive.db.timestamps import http_date, parse_http_date, parse_timestamp, timestamp14
from archive.errors import NotFoundError, QueryError, SyndicrawlError
from archive.lookup import cdx, cdx_formats, snapshots
from archive.syndication import chains

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Connection

    from archive.db.engine import Database
    from archive.db.models import Capture
    from archive.lookup.snapshots import CaptureRow

logger = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REPLAY = re.compile(r"/([0-9]{0,14})id_/(.+)")
_BLOCK = 64 * 1024
# Archived headers replayed under their own name: they only describe the payload as it is
# sent. Every other one is renamed X-Archive-Orig-<Name> (pywb's prefix), an allow-list rather
# than pywb's list of headers to rename, so a header browsers learn to act on later
# (Set-Cookie, Access-Control-*, Location, Refresh, Content-Security-Policy, Strict-Transport-
# Security, Clear-Site-Data, Link, Service-Worker-Allowed, ... today) cannot act on the
# archive's origin or its client; hop-by-hop headers and Content-Length belonged to the
# archived connection (this one's Content-Length is the stored payload's). The archived Date and
# Server go out renamed too: the WSGI server sends its own (a cache dates the reply by Date).
_REPLAYED = {"content-type", "content-encoding", "content-language", "content-disposition", "content-range"}
ARCHIVED_PREFIX = "X-Archive-Orig-"
# Raw replay does not rewrite the page, so nothing an archived page runs may reach this origin:
# "sandbox" (no allow-scripts, no allow-same-origin) runs no scripts, forms, popups or plugins and
# gives the document an opaque origin (no cookies or storage of the archive, no same-origin
# requests to it). default-src keeps it from loading from the live web (the archived page's
# absolute links point there), which would tell that site who reads the archive.
SANDBOX = "sandbox; default-src 'self' 'unsafe-inline' data: blob:"


class HttpError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class ArchiveApp:
    """The WSGI application over one data directory's database and WARC files."""

    def __init__(self, database: Database, warc_dir: Path) -> None:
        self.database = database
        self.warc_dir = warc_dir

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        try:
            if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
                raise HttpError("405 Method Not Allowed", "read-only: only GET and HEAD")
            if path == "/cdx":
                return self._cdx(environ, start_response)
            if path in ("/api/article", "/api/chain"):
                return self._api(path, environ, start_response)
            target = _target(environ)
            if path.startswith("/timemap/link/"):
                return self._timemap(environ, _url(target[len("/timemap/link/"):]), start_response)
            if path.startswith("/timemap/json/"):
                return self._timemap_json(_url(target[len("/timemap/json/"):]), start_response)
            if path.startswith("/timegate/"):
                return self._timegate(environ, _url(target[len("/timegate/"):]), start_response)
            replay = _REPLAY.fullmatch(target)
            if replay:
                return self._replay(environ, replay.group(1), _url(replay.group(2)), start_response)
            raise HttpError("404 Not Found",
                            f"no such endpoint: {path!r}; see /cdx, /timemap/link/, /timemap/json/, /timegate/, /id_/")
        except HttpError as exc:
            return _json(start_response, exc.status, {"message": str(exc)})
        except QueryError as exc:
            return _json(start_response, "400 Bad Request", {"message": str(exc)})
        except NotFoundError as exc:
            return _json(start_response, "404 Not Found", {"message": str(exc)})
        except SyndicrawlError as exc:
            logger.warning("%s %s: %s", environ.get("REQUEST_METHOD"), path, exc)
            return _json(start_response, "500 Internal Server Error", {"message": str(exc)})

    def _cdx(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """CDX lines: an answer under 64 KiB is sent whole with a Content-Length, a longer one streamed in chunks.

        A URL's captures fit in one answer: its connection stays open (a chunked reply would
        close it, costing the client a new connection per lookup).
        """
        query = cdx.CdxQuery.from_params(parse_qs(environ.get("QUERY_STRING", "")))
        content_type = [("Content-Type", cdx_formats.CONTENT_TYPES[query.output])]
        conn = self.database.connect()
        try:
            lines = (line.encode() for line in cdx_formats.lines(query, cdx.query(conn, query)))
            head: list[bytes] = []
            size = 0
            for line in lines:
                head.append(line)
                size += len(head[-1])
                if size >= _BLOCK:
                    break
            else:
                conn.close()
                return _respond(start_response, "200 OK", content_type, b"".join(head))
        except BaseException:
            conn.close()
            raise
        start_response("200 OK", content_type)
        return _blocks(conn, head, lines)

    def _api(self, path: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        url = (parse_qs(environ.get("QUERY_STRING", "")).get("url") or [""])[-1]
        if not url:
            raise QueryError(f"a url= parameter is required, e.g. {path}?url=http://example.com/page")
        _url(url)
        with self.database.session() as s:
            if path == "/api/chain":
                answer = chains.chain(s, url).to_dict()
            else:
                article = catalog.latest_article(s, url)
                if article is None:
                    raise NotFoundError(f"{url}: no extracted article in the archive")
                answer = catalog.article_fields(article)
        return _json(start_response, "200 OK", answer)

    def _timemap(self, environ: dict[str, Any], url: str, start_response: StartResponse) -> Iterable[bytes]:
        with self.database.session() as s:
            captures = catalog.captures_for_url(s, url)
        if not captures:
            raise NotFoundError(f"{url}: no capture in the archive")
        base = application_uri(environ).rstrip("/")
        first, last = captures[0].timestamp, captures[-1].timestamp
        links = [
            f'<{url}>; rel="original"',
            f'<{base}/timegate/{url}>; rel="timegate"',
            f'<{base}/timemap/link/{url}>; rel="self"; type="application/link-format"; '
            f'from="{http_date(first)}"; until="{http_date(last)}"',
            *(_memento_link(base, c) for c in captures),
        ]
        body = (",\n".join(links) + "\n").encode()
        return _respond(start_response, "200 OK", [("Content-Type", "application/link-format")], body)

    def _timemap_json(self, url: str, start_response: StartResponse) -> Iterable[bytes]:
        """pywb's ``/timemap/json/``: what ``/cdx?url=URL&output=json`` answers, a 404 when that is nothing."""
        query = cdx.CdxQuery(url=url, output="json")
        with self.database.connect() as conn:
            body = "".join(cdx_formats.lines(query, cdx.query(conn, query))).encode()
        if not body:
            raise NotFoundError(f"{url}: no capture in the archive")
        return _respond(start_response, "200 OK", [("Content-Type", cdx_formats.CONTENT_TYPES["json"])], body)

    def _timegate(self, environ: dict[str, Any], url: str, start_response: StartResponse) -> Iterable[bytes]:
        wanted = environ.get("HTTP_ACCEPT_DATETIME")
        at = parse_http_date(wanted) if wanted else None
        with self.database.connect() as conn:
            capture = snapshots.closest_capture(conn, url, at)
        base = application_uri(environ).rstrip("/")
        headers = [
            ("Location", _memento_url(base, capture)),
            ("Vary", "accept-datetime"),
            ("Link", _links(base, url, capture)),
            ("Content-Type", "text/plain; charset=utf-8"),
        ]
        return _respond(start_response, "302 Found", headers, b"")

    def _replay(self, environ: dict[str, Any], stamp: str, url: str, start_response: StartResponse) -> Iterable[bytes]:
        at = parse_timestamp(stamp) if stamp else None
        base = application_uri(environ).rstrip("/")
        files = ExitStack()
        try:
            with self.database.connect() as conn:
                capture = snapshots.closest_capture(conn, url, at)
                # Opened before the status line is sent, so a missing file is still a clean error.
                replay = files.enter_context(snapshots.open_replay(conn, self.warc_dir, capture))
            headers = _replay_headers(replay.headers)
            headers += [
                ("Content-Security-Policy", SANDBOX),
                ("Content-Length", str(replay.payload_length)),
                ("Memento-Datetime", http_date(capture.timestamp)),
                ("Link", _links(base, url, capture)),
            ]
            if stamp != timestamp14(capture.timestamp):
                headers.append(("Content-Location", _memento_url(base, capture)))
            start_response(_status(replay.status_line), headers)
        except BaseException:
            files.close()
            raise
        if environ.get("REQUEST_METHOD") == "HEAD":
            files.close()
            return [b""]
        return _stream(files, replay.payload)


def _replay_headers(archived: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The archived headers as replayed: the payload's own kept, every other one renamed."""
    return [(name if name.lower() in _REPLAYED else ARCHIVED_PREFIX + name, value) for name, value in archived]


def _url(url: str) -> str:
    """A URL a client sent, checked to have a lookup key (a ``QueryError`` says why not)."""
    cdx.checked_key(url)
    return url


def _status(line: str) -> str:
    """A WSGI status from an archived status line; a line without a reason phrase gets the standard one."""
    code, _, reason = line.strip().partition(" ")
    try:
        return f"{code} {reason or HTTPStatus(int(code)).phrase}"
    except ValueError:
        return f"{code} {reason or 'Archived'}"


def _stream(files: ExitStack, payload: BinaryIO) -> Iterator[bytes]:
    """Yield the payload in blocks; closing the iterator (WSGI calls close()) closes the WARC files."""
    with files:
        while block := payload.read(_BLOCK):
            yield block


def _blocks(conn: Connection, head: list[bytes], lines: Iterator[bytes]) -> Iterator[bytes]:
    """Join lines into blocks of about 64 KiB (one chunk each), then close the connection."""
    with conn:
        block, size = list(head), sum(map(len, head))
        for line in lines:
            block.append(line)
            size += len(line)
            if size >= _BLOCK:
                yield b"".join(block)
                block, size = [], 0
        yield b"".join(block)


def _target(environ: dict[str, Any]) -> str:
    """The request target as sent, query included: the archived URL in ``/timegate/URL`` keeps its ``?``."""
    raw = environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = environ.get("QUERY_STRING")
    # PATH_INFO is decoded and, as WSGI strings are, holds its bytes as latin-1 (PEP 3333).
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/:@!$&'()*+,;=~[]")
    return path + (f"?{query}" if query else "")


def _memento_url(base: str, capture: Capture | CaptureRow) -> str:
    return f"{base}/{timestamp14(capture.timestamp)}id_/{capture.url}"


def _memento_link(base: str, capture: Capture | CaptureRow) -> str:
    return f'<{_memento_url(base, capture)}>; rel="memento"; datetime="{http_date(capture.timestamp)}"'


def _links(base: str, url: str, capture: Capture | CaptureRow) -> str:
    return ", ".join([
        f'<{url}>; rel="original"',
        f'<{base}/timegate/{url}>; rel="timegate"',
        f'<{base}/timemap/link/{url}>; rel="timemap"; type="application/link-format"',
        _memento_link(base, capture),
    ])


def _json(start_response: StartResponse, status: str, answer: object) -> Iterable[bytes]:
    body = json.dumps(answer, ensure_ascii=False).encode()
    return _respond(start_response, status, [("Content-Type", "application/json; charset=utf-8")], body)


def _respond(start_response: StartResponse, status: str, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
