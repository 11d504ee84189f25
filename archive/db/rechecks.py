"""Rechecks in the database: when each article page is fetched again to see whether it changed.

The archive writer records each fetch of an article page (``record``): the first one starts the
page's schedule, every one moves it on and a capture with a payload gives the validators the next
recheck sends. A poll reads the pages due (``due``). The intervals (a source's ``recheck``) are
the caller's: nothing here knows a sources file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import select, update

from archive.db.engine import upsert
from archive.db.models import Recheck, Source
from archive.db.urls import url_key

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Pages one poll of a source rechecks at most, the longest waiting first: a source whose pages all
#: fell due at once (a week after a big first crawl) is rechecked over several polls, not in one.
BATCH = 50


@dataclass(frozen=True, slots=True)
class RecheckPlan:
    """What a recheck of one page sends: the stored capture's validators (None: not given by its server)."""

    url: str
    capture_id: int | None
    etag: str | None
    last_modified: str | None


class Fetch(NamedTuple):
    """One fetch of an article page: ``capture_id`` is its capture when that holds the page
    (a 2xx), None when it does not (a 304, a 404); ``etag`` / ``last_modified`` its validators."""

    url: str
    at: datetime
    capture_id: int | None
    etag: str | None = None
    last_modified: str | None = None


def next_at(first: datetime, intervals: Sequence[int], now: datetime) -> datetime | None:
    """The first of ``first`` + each interval (seconds, ascending) after ``now``; None once all are past.

    Steps already past when the page is fetched are not made up: a page seen a day after its
    first capture (a recheck that waited, a full crawl) is next due at its week.
    """
    for seconds in intervals:
        when = first + timedelta(seconds=seconds)
        if when > now:
            return when
    return None


def record(s: Session, source_id: int, intervals: Sequence[int], fetches: Sequence[Fetch]) -> None:
    """Start or move on the schedule of each page fetched. A page's first fetch with a payload
    starts it (a 304 or 404 of a page never recorded starts nothing)."""
    latest = {url_key(fetch.url): fetch for fetch in sorted(fetches, key=lambda fetch: fetch.at)}
    if not latest:
        return
    known = {row.url_key: row for row in s.scalars(select(Recheck).where(Recheck.url_key.in_(list(latest))))}
    new = []
    for key, fetch in latest.items():
        row = known.get(key)
        if row is None:
            if fetch.capture_id is not None:
                new.append({
                    "url_key": key, "source_id": source_id, "url": fetch.url, "capture_id": fetch.capture_id,
                    "etag": fetch.etag, "last_modified": fetch.last_modified, "first_at": fetch.at,
                    "next_at": next_at(fetch.at, intervals, fetch.at),
                })  # fmt: skip
            continue
        if fetch.capture_id is not None:
            row.capture_id, row.etag, row.last_modified = fetch.capture_id, fetch.etag, fetch.last_modified
        row.next_at = next_at(row.first_at, intervals, fetch.at)
    if new:  # another writer (a second source, a second worker) may have stored the page meanwhile
        s.execute(upsert(s, Recheck).values(new).on_conflict_do_nothing())
    s.flush()


def due(s: Session, source_name: str, now: datetime, limit: int = BATCH) -> list[RecheckPlan]:
    """The pages of ``source_name`` whose recheck is due at ``now``, the longest waiting first."""
    rows = s.execute(
        select(Recheck.url, Recheck.capture_id, Recheck.etag, Recheck.last_modified)
        .join(Source, Source.id == Recheck.source_id)
        .where(Source.name == source_name, Recheck.next_at <= now)
        .order_by(Recheck.next_at, Recheck.url_key)
        .limit(limit)
    )
    return [RecheckPlan(*row) for row in rows]


def plans(s: Session, urls: Sequence[str]) -> list[RecheckPlan]:
    """What a recheck of each of ``urls`` sends, due or not (a URL never captured: no validators)."""
    rows = {row.url_key: row for row in s.scalars(select(Recheck).where(Recheck.url_key.in_([url_key(u) for u in urls])))}
    found = [rows.get(url_key(url)) for url in urls]
    return [
        RecheckPlan(url, row.capture_id, row.etag, row.last_modified) if row else RecheckPlan(url, None, None, None)
        for url, row in zip(urls, found, strict=True)
    ]


def postpone(s: Session, urls: Sequence[str], until: datetime) -> None:
    """Move the rechecks of ``urls`` to ``until``: the scheduler daemon's claim on a poll it starts
    (a page whose recheck got no answer is tried again then, not at every tick)."""
    s.execute(update(Recheck).where(Recheck.url_key.in_([url_key(url) for url in urls])).values(next_at=until))
