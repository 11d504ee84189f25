"""One capture of a URL, as archived: the nearest in time, read straight from its WARC by offset.

The ``captures`` table is the lookup index: (url_key, timestamp) is indexed, so finding the
capture nearest a time is two one-row index probes in one statement, and its locator (file,
offset) is one seek. A revisit record holds the HTTP headers of its own fetch but no payload;
the payload is read from the original record it points to, as pywb replays revisits.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import Row, bindparam, select, union_all

from archive.db.models import Article, Capture
from archive.db.timestamps import timestamp14
from archive.db.urls import url_key
from archive.errors import NotFoundError, WarcError
from archive.warc.records import read_record
from archive.warc.storage import WarcStorage, storage

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime
    from pathlib import Path

    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session
    from warcio.recordloader import ArcWarcRecord


#: A row of the ``captures`` table: its columns as attributes (``.url``, ``.warc_offset``, ...).
#: Lookups return rows, not ``Capture`` objects: building an ORM object cost three times the
#: index probes; ``session.get(Capture, row.id)`` when one is needed.
CaptureRow = Row[Any]

# Built once: building and cache-keying a select costs more than the index probes it runs.
_COLUMNS = Capture.__table__.c
_BY_ID = select(*_COLUMNS).where(_COLUMNS.id == bindparam("id"))
_BY_KEY = select(*_COLUMNS).where(_COLUMNS.url_key == bindparam("key"))
_NEWEST_FIRST = (_COLUMNS.timestamp.desc(), _COLUMNS.id.desc())
_LATEST = _BY_KEY.order_by(*_NEWEST_FIRST).limit(1)
_AROUND = union_all(
    _BY_KEY.where(_COLUMNS.timestamp <= bindparam("at")).order_by(*_NEWEST_FIRST).limit(1).subquery().select(),
    _BY_KEY.where(_COLUMNS.timestamp > bindparam("at")).order_by(_COLUMNS.timestamp, _COLUMNS.id).limit(1)
    .subquery().select(),
)


def closest_capture(conn: Connection, url: str, at: datetime | None = None) -> CaptureRow:
    """The capture of ``url`` (or a variant: same key) nearest ``at``; the latest without ``at``.

    Of two equally near, the earlier wins, as in pywb's closest sort. One statement: the last
    capture at or before ``at`` and the first after it.
    """
    key = url_key(url)
    if at is None:
        found = conn.execute(_LATEST, {"key": key}).first()
    else:
        rows = conn.execute(_AROUND, {"key": key, "at": at}).all()
        found = min(rows, key=lambda row: (abs(row.timestamp - at), row.timestamp), default=None)
    if found is None:
        raise NotFoundError(f"{url}: no capture in the archive")
    return found


def payload_capture(conn: Connection, capture: CaptureRow) -> CaptureRow:
    """The capture whose record holds the payload: the original of a revisit, else the capture itself."""
    if capture.revisit_of is None:
        return capture
    found = conn.execute(_BY_ID, {"id": capture.revisit_of}).first()
    if found is None:
        raise NotFoundError(
            f"{capture.url}: the capture at {timestamp14(capture.timestamp)} revisits capture "
            f"#{capture.revisit_of}, which is no longer in the database"
        )
    return found


def article_of(session: Session, capture: CaptureRow) -> Article:
    """The extracted article of a capture, or of the original it revisits."""
    for candidate in dict.fromkeys((capture.id, capture.revisit_of)):
        if candidate is not None:
            found = session.scalars(select(Article).where(Article.capture_id == candidate)).first()
            if found is not None:
                return found
    raise NotFoundError(f"{capture.url}: no extracted article for the capture at {timestamp14(capture.timestamp)}")


@contextmanager
def open_record(warcs: WarcStorage | Path, capture: CaptureRow) -> Iterator[ArcWarcRecord]:
    """The capture's WARC record, checked to be the one the database points at."""
    location = storage(warcs).location(capture.warc_file)
    with read_record(location, capture.warc_offset, capture.warc_length) as record:
        found = record.rec_headers.get_header("WARC-Record-ID")
        if found != capture.record_id:
            raise WarcError(
                f"{location}: the record at offset {capture.warc_offset} is {found}, not {capture.record_id} "
                "(was the file replaced?)"
            )
        yield record


@dataclass
class Replay:
    """A capture's response as archived: status line and headers of its own fetch, payload as stored.

    ``payload`` is the body as the server sent it (still gzip when it was gzipped);
    ``decoded()`` removes the Content-Encoding with warcio instead. Read one of the two.
    """

    capture: CaptureRow
    protocol: str
    status_line: str
    headers: list[tuple[str, str]]
    payload_length: int
    _body: ArcWarcRecord

    @property
    def payload(self) -> BinaryIO:
        return self._body.raw_stream  # type: ignore[no-any-return]

    def decoded(self) -> BinaryIO:
        return self._body.content_stream()  # type: ignore[no-any-return]


@contextmanager
def open_replay(conn: Connection, warcs: WarcStorage | Path, capture: CaptureRow) -> Iterator[Replay]:
    """Open a capture for replay; the streams are valid inside the ``with`` block only."""
    original = payload_capture(conn, capture)
    with ExitStack() as stack:
        record = stack.enter_context(open_record(warcs, capture))
        body = record if original is capture else stack.enter_context(open_record(warcs, original))
        http = record.http_headers or body.http_headers
        if http is None:
            raise WarcError(f"{capture.warc_file}: the record at offset {capture.warc_offset} has no HTTP response")
        yield Replay(capture, http.protocol, http.statusline, list(http.headers), max(body.payload_length, 0), body)
