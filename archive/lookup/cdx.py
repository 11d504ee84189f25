"""pywb's CDX server API, answered from the captures table.

The parameters and their meaning are pywb's (``pywb/warcserver/index/query.py`` and
``cdxops.py``): ``url`` (``*`` suffix: prefix, ``*.`` prefix: domain), ``matchType``,
``from``, ``to``, ``closest``, ``sort=reverse``, ``limit``, ``filter``, ``collapseTime`` and
``fl``; rows come in the same order as a sorted index file (key, time, then the line itself),
written out by ``archive.lookup.cdx_formats``. pywb cannot be imported here (it pins old
redis/fakeredis), so its query semantics are re-implemented; the tests compare the answers
with pywb's own indexer and CDX server.

Everything a client sends is checked before any row is read: a bad value is a ``QueryError``
naming the parameter and what to give. Regex filters run on RE2 (``google-re2``), whose
matching time is linear in the text, so a pattern such as ``(.+)+X`` cannot pin a CPU as it
does in Python's backtracking ``re``; RE2 refuses backreferences and lookaround instead.

The database rather than the index files answers: one indexed range scan on
(url_key, timestamp) instead of a binary search in every per-WARC index file. The rows
are the captures (response and revisit records), exactly the records the index files hold.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import groupby, islice
from typing import TYPE_CHECKING, Any

import re2
from sqlalchemy import Select, bindparam, select

from archive.db.models import Capture
from archive.db.timestamps import parse_timestamp, timestamp14
from archive.db.urls import url_key
from archive.errors import QueryError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

MATCH_TYPES = ("exact", "prefix", "host", "domain")
# pywb's CDXObject.CDX_ALT_FIELDS: short and legacy names of the fields.
FIELD_ALIASES = {
    "u": "url",
    "original": "url",
    "statuscode": "status",
    "s": "status",
    "mimetype": "mime",
    "m": "mime",
    "l": "length",
    "o": "offset",
    "d": "digest",
    "t": "timestamp",
    "k": "urlkey",
    "f": "filename",
}
#: The fields ``fl`` and ``filter`` may name: the CDXJ line's, plus CDX11's ``redirect`` and
#: ``robotflags``, which pywb clients ask for and cdxj-indexer never writes (absent, as in pywb).
FIELDS = ("urlkey", "timestamp", "url", "mime", "status", "digest", "length", "offset", "filename",
          "redirect", "robotflags")
SORTS = ("reverse", "closest")
OUTPUTS = ("cdxj", "json", "text", "link")
#: Longer regex filters are refused: RE2 compiles in time and memory proportional to the
#: pattern (a 100,000-character one takes 50 ms), and no real filter needs more.
MAX_REGEX = 1000
_MAX_LIMIT_DIGITS = 18  # below sys.maxsize: int() of thousands of digits is itself slow, and refused
_REGEX_OPTIONS = re2.Options()
_REGEX_OPTIONS.log_errors = False  # a refused pattern is the client's 400, not a line on the server's stderr
_REGEX_OPTIONS.never_capture = True
# cdxj-indexer's mime: the Content-Type up to the first ";" or space.
_MIME_END = re.compile(r"[;\s]")
_TABLE = Capture.__table__.c
_LAST_SECOND = datetime.max.replace(microsecond=0, tzinfo=UTC)
_COLUMNS = (_TABLE.url_key, _TABLE.timestamp, _TABLE.url, _TABLE.mime, _TABLE.status, _TABLE.payload_digest,
            _TABLE.warc_length, _TABLE.warc_offset, _TABLE.warc_file, _TABLE.revisit_of)


@dataclass(frozen=True, slots=True)
class CdxRow:
    """One index line: SURT key, 14-digit timestamp and the JSON fields, all strings as in CDXJ."""

    urlkey: str
    timestamp: str
    fields: dict[str, str]

    @property
    def line(self) -> str:
        """The CDXJ line, byte for byte what cdxj-indexer writes."""
        return f"{self.urlkey} {self.timestamp} {json.dumps(self.fields)}"

    def get(self, name: str) -> str | None:
        if name == "urlkey":
            return self.urlkey
        if name == "timestamp":
            return self.timestamp
        return self.fields.get(name)

    def select(self, names: Sequence[str] | None) -> dict[str, str]:
        """The row as pywb's ``output=json`` object: every field, or the ``fl`` fields in their order."""
        if names is None:
            return {"urlkey": self.urlkey, "timestamp": self.timestamp, **self.fields}
        return {name: value for name in names if (value := self.get(name)) is not None}


def row_of(values: Sequence[object]) -> CdxRow:
    """Build the index row of a capture from the ``_COLUMNS`` values."""
    key, moment, url, mime, status, digest, length, offset, filename, revisit_of = values
    fields = {"url": str(url)}
    # cdxj-indexer: a revisit's mime is warc/revisit; a missing Content-Type gives no mime.
    mime = "warc/revisit" if revisit_of is not None else _MIME_END.split(str(mime), maxsplit=1)[0]
    if mime:
        fields["mime"] = mime
    fields.update(status=str(status), digest=str(digest), length=str(length), offset=str(offset), filename=str(filename))
    assert isinstance(moment, datetime)
    return CdxRow(str(key), timestamp14(moment), fields)


class CdxFilter:
    """One ``filter=`` of pywb: ``[!][=|~][field:]value``; contains, exact (=) or regex (~) match."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.invert = spec.startswith("!")
        body = spec[1:] if self.invert else spec
        self.mode = body[0] if body[:1] in ("=", "~") else ""
        body = body[1:] if self.mode else body
        name, sep, value = body.partition(":")
        self.field, self.value = (field_name(name, f"filter {spec!r}"), value) if sep else ("", body)
        if self.mode == "~":
            if len(self.value) > MAX_REGEX:
                raise QueryError(f"bad filter {spec[:40]!r}...: a regex of at most {MAX_REGEX} characters")
            try:
                self.regex = re2.compile(self.value, _REGEX_OPTIONS)
            except re2.error as exc:
                reason = exc.args[0].decode(errors="replace") if exc.args else "not a valid regex"
                raise QueryError(f"bad filter {spec!r}: {reason} (RE2 syntax: no backreferences or lookaround)") from None

    def __call__(self, row: CdxRow) -> bool:
        value = row.line if not self.field else (row.get(self.field) or "")
        if self.mode == "=":
            matched = value == self.value
        elif self.mode == "~":
            matched = self.regex.match(value) is not None
        else:
            matched = self.value in value
        return matched != self.invert


def field_name(name: str, where: str) -> str:
    """The field ``name`` (or its short or legacy alias) stands for; unknown names are refused,
    where pywb would silently match or select nothing."""
    field = FIELD_ALIASES.get(name, name)
    if field not in FIELDS:
        raise QueryError(f"bad field {name!r} in {where}: give one of {', '.join(FIELDS)}")
    return field


def checked_key(url: str) -> str:
    """The URL key of a URL a client sent, or a ``QueryError`` saying why it has none."""
    if any(c < " " or c == "\x7f" for c in url):
        raise QueryError(f"bad url {url!r}: control characters")
    try:
        return url_key(url)
    except ValueError as exc:  # surt: a port not a number or out of range, a host IDNA refuses, surrogates
        raise QueryError(f"bad url {url!r}: {exc}") from None


def search_range(url: str, match_type: str) -> tuple[str, str]:
    """The [start, end) key range of a query, as pywb's ``calc_search_range`` computes it."""
    start = checked_key(url)
    if match_type == "exact":
        return start, start + "!"
    if match_type == "prefix":
        for mark in ("/", "?"):
            if url.endswith(mark) and not start.endswith(mark):
                start += mark
        return start, start[:-1] + chr(ord(start[-1]) + 1)
    host = start.split(")/")[0]
    if match_type == "host":
        return host + ")/", host + "*"
    if match_type == "domain":
        return (host + ")/" if "," in host else host + ","), host + "-"
    raise QueryError(f"bad matchType {match_type!r}: give one of {', '.join(MATCH_TYPES)}")


@dataclass(frozen=True)
class CdxQuery:
    """A parsed CDX request. Times are aware UTC datetimes; ``to`` is inclusive to its second."""

    url: str
    match_type: str = "exact"
    start: datetime | None = None
    end: datetime | None = None
    closest: datetime | None = None
    reverse: bool = False
    limit: int | None = None
    filters: tuple[CdxFilter, ...] = ()
    fields: tuple[str, ...] | None = None
    output: str = "cdxj"
    collapse_time: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Sequence[str]]) -> CdxQuery:
        """Parse query-string parameters (each a list of values, as ``parse_qs`` gives them)."""

        def one(name: str) -> str | None:
            values = params.get(name)
            return values[-1] if values else None

        def time(name: str, *, end: bool = False) -> datetime | None:
            value = one(name)
            try:
                return parse_timestamp(value, end=end) if value else None
            except QueryError as exc:
                raise QueryError(f"{name}: {exc}") from None

        url = one("url")
        if not url:
            raise QueryError("a url= parameter is required, e.g. /cdx?url=http://example.com/page")
        match_type = one("matchType")
        if not match_type:
            match_type = "exact"
            if url.startswith("*."):
                url, match_type = url[2:], "domain"
            elif url.endswith("*"):
                url, match_type = url[:-1], "prefix"
        if match_type not in MATCH_TYPES:
            raise QueryError(f"bad matchType {match_type!r}: give one of {', '.join(MATCH_TYPES)}")
        limit_text = one("limit")
        if limit_text is not None and not (limit_text.isascii() and limit_text.isdigit()
                                           and len(limit_text) <= _MAX_LIMIT_DIGITS):
            raise QueryError(f"bad limit {limit_text[:40]!r}: give a whole number of at most {_MAX_LIMIT_DIGITS} digits")
        output = one("output") or "cdxj"
        if output not in OUTPUTS:
            raise QueryError(f"bad output {output!r}: give one of {', '.join(OUTPUTS)} (cdxj when left out)")
        collapse = one("collapseTime")
        if collapse is not None and not (collapse.isascii() and collapse.isdigit() and len(collapse) <= 2
                                         and 1 <= int(collapse) <= 14):
            raise QueryError(f"bad collapseTime {collapse[:40]!r}: give how many timestamp digits to collapse on, "
                             "1 to 14 (8: one capture a day)")
        sort = one("sort")
        if sort and sort not in SORTS:
            raise QueryError(f"bad sort {sort!r}: give reverse, or closest (with closest=TIMESTAMP)")
        fields = one("fl") or one("fields")
        return cls(
            url=url,
            match_type=match_type,
            start=time("from"),
            end=time("to", end=True),
            closest=time("closest"),
            reverse=sort == "reverse" or (one("reverse") or "").lower() in ("1", "true"),
            limit=int(limit_text) if limit_text is not None else None,
            filters=tuple(CdxFilter(spec) for spec in params.get("filter", [])),
            fields=tuple(field_name(f, f"fl {fields!r}") for f in fields.split(",")) if fields else None,
            output=output,
            collapse_time=int(collapse) if collapse is not None else None,
        )


def query(conn: Connection, q: CdxQuery) -> Iterator[CdxRow]:
    """The rows answering ``q``, in pywb's order: by key and time, reversed, or nearest ``closest`` first."""
    start, end = search_range(q.url, q.match_type)
    if q.closest is not None:
        rows = _closest(conn, q, start, end)
    else:
        rows = _collapse(q, _keep(q, _rows(conn, start, end, q.start, _after(q.end), descending=q.reverse)))
    return islice(rows, q.limit) if q.limit is not None else rows


def _after(end: datetime | None) -> datetime | None:
    """The exclusive bound after an inclusive end time (a timestamp covers its whole second);
    none after the last second a datetime holds (``to=9999``)."""
    if end is None or end >= _LAST_SECOND:
        return None
    return end + timedelta(seconds=1)


def _keep(q: CdxQuery, rows: Iterable[CdxRow]) -> Iterator[CdxRow]:
    return (row for row in rows if all(f(row) for f in q.filters))


def _collapse(q: CdxQuery, rows: Iterator[CdxRow]) -> Iterator[CdxRow]:
    """pywb's ``cdx_collapse_time_status``: of consecutive rows (in index order, after the filters)
    whose timestamps share the first ``collapseTime`` digits and whose status is the same, only
    the first; consecutive across URLs too, as in pywb. A reversed stream keeps each run's last row,
    which is the first in index order: the answer is pywb's, reversed."""
    if q.collapse_time is None:
        return rows
    digits = q.collapse_time
    runs = groupby(rows, key=lambda row: (row.timestamp[:digits], row.fields.get("status", "")))
    if q.reverse and q.closest is None:
        return (deque(run, maxlen=1)[0] for _, run in runs)
    return (next(run) for _, run in runs)


def _closest(conn: Connection, q: CdxQuery, start: str, end: str) -> Iterator[CdxRow]:
    """Nearest first; equal distances in index order, as pywb's ``cdx_sort_closest``.

    For one URL the captures before and after the time are two indexed scans moving away
    from it, merged lazily; for a key range (several URLs), or rows collapsed (in index order,
    before ranking, as pywb does), every row is ranked.
    """
    target = q.closest
    assert target is not None
    end_time = _after(q.end)

    def distance(row: CdxRow) -> float:
        return abs((parse_timestamp(row.timestamp) - target).total_seconds())

    if q.match_type == "exact" and q.collapse_time is None:
        pivot = _after(target)  # the target's whole second counts as "before"
        if pivot is None:  # closest=9999: everything is before
            return _keep(q, _rows(conn, start, end, q.start, end_time, descending=True, groups_ascending=True))
        before_end = min(pivot, end_time) if end_time else pivot
        after_start = max(pivot, q.start) if q.start else pivot
        before = _rows(conn, start, end, q.start, before_end, descending=True, groups_ascending=True)
        after = _rows(conn, start, end, after_start, end_time, descending=False)
        return heapq.merge(_keep(q, before), _keep(q, after), key=distance)
    ranked = sorted(_collapse(q, _keep(q, _rows(conn, start, end, q.start, end_time, descending=False))), key=distance)
    return iter(ranked)


def file_rows(conn: Connection, warc_file: str) -> Iterator[CdxRow]:
    """The index rows of the captures stored in one WARC file, in no particular order."""
    result = conn.execute(select(*_COLUMNS).where(_TABLE.warc_file == warc_file))
    return (row_of(values) for values in result)


@lru_cache(maxsize=None)
def _statement(exact: bool, since: bool, until: bool, descending: bool) -> Select[Any]:
    """The range scan of one query shape, built once: its parameters are bound at execution."""
    stmt = select(*_COLUMNS)
    if exact:
        stmt = stmt.where(_TABLE.url_key == bindparam("start"))
    else:
        stmt = stmt.where(_TABLE.url_key >= bindparam("start"), _TABLE.url_key < bindparam("end"))
    if since:
        stmt = stmt.where(_TABLE.timestamp >= bindparam("since"))
    if until:
        stmt = stmt.where(_TABLE.timestamp < bindparam("until"))
    order = (_TABLE.url_key, _TABLE.timestamp, _TABLE.id)
    stmt = stmt.order_by(*(c.desc() for c in order) if descending else order)
    return stmt.execution_options(stream_results=True, max_row_buffer=500)


def _rows(
    conn: Connection,
    start: str,
    end: str,
    since: datetime | None,
    until: datetime | None,
    *,
    descending: bool,
    groups_ascending: bool = False,
) -> Iterator[CdxRow]:
    """Stream the rows with key in [start, end) and time in [since, until), in index order or reversed.

    Index files order lines with the same key and second by the JSON text; the database
    orders by time, so each such group is sorted on the way out (ascending even in a
    descending stream when ``groups_ascending``: a nearest-first merge wants that).
    """
    stmt = _statement(end == start + "!", since is not None, until is not None, descending)
    # Built once per shape (building and cache-keying a select costs more than the query).
    # Streamed: a server-side cursor on PostgreSQL (SQLite's cursor is lazy anyway), fetching
    # a few rows first and more as they are read, so limit=1 reads little of a long history.
    result = conn.execute(stmt, {"start": start, "end": end, "since": since, "until": until})
    rows = (row_of(values) for values in result)
    for _, group in groupby(rows, key=lambda row: (row.urlkey, row.timestamp)):
        same_second = list(group)
        if len(same_second) > 1:  # most are one row, whose line need not be built twice
            same_second.sort(key=lambda row: row.line, reverse=descending and not groups_ascending)
        yield from same_second
