"""Feed polling in the database: what each fetch of a feed found, and each feed's polling state.

A crawl records facts with ``record_poll`` (from its archive writer, next to the feed's
entries); the scheduler daemon reads the queued outcomes, decides what they mean
(``scheduler.polling``) and writes its decisions back with ``apply_decisions``. No policy
lives here: this module only stores and compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select, update

from archive.db.catalog import ensure_source
from archive.db.engine import upsert
from archive.db.models import Capture, Feed, FeedEntry, FeedPolling, FeedPollOutcome, Source

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class FeedPlan:
    """What a poll sends for one feed, and the entries it need not fetch again (archived already).

    ``etag`` / ``last_modified`` are set only when the daemon decided the next poll is
    conditional (the server's validators are trusted and no audit is due).
    """

    url: str
    etag: str | None
    last_modified: str | None
    known_entries: frozenset[str]


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One row of ``syndicrawl feeds status``."""

    source: str
    url: str
    title: str | None
    state: FeedPolling


def _feed_ids(s: Session, source_name: str, urls: Iterable[str]) -> dict[str, int]:
    rows = s.execute(
        select(Feed.url, Feed.id).join(Source, Source.id == Feed.source_id).where(
            Source.name == source_name, Feed.url.in_(list(urls))
        )
    )
    return {url: feed_id for url, feed_id in rows}


def _ensure_feed_rows(s: Session, source_id: int, urls: Sequence[str]) -> dict[str, int]:
    """Feed rows and polling rows for ``urls``; a feed not fetched yet keeps ``last_fetched_at`` empty."""
    for url in urls:
        s.execute(upsert(s, Feed).values(source_id=source_id, url=url, kind="unknown").on_conflict_do_nothing())
    ids = dict(s.execute(select(Feed.url, Feed.id).where(Feed.source_id == source_id, Feed.url.in_(urls))).all())
    for feed_id in ids.values():
        s.execute(upsert(s, FeedPolling).values(feed_id=feed_id).on_conflict_do_nothing())
    return ids


def ensure_polled_feeds(s: Session, source_name: str, kind: str, urls: Sequence[str]) -> None:
    """Make sure each configured feed of a source has a polling state (new ones are due at once)."""
    _ensure_feed_rows(s, ensure_source(s, source_name, kind).id, urls)


def record_poll(
    s: Session, source_id: int, outcome: Mapping[str, Any], entries: Sequence[Mapping[str, Any]], entries_feed_id: int
) -> None:
    """Record one fetch of the feed ``outcome["feed_url"]`` (the URL requested, before redirects).

    Call before the fetch's entries are stored in feed ``entries_feed_id`` (the URL answered):
    entries not there yet count as new. ``outcome`` is plain data from the crawler (see
    ``crawler.feeds.poll_outcome``).
    """
    feed_id = _ensure_feed_rows(s, source_id, [outcome["feed_url"]])[outcome["feed_url"]]
    state = s.execute(
        select(FeedPolling).where(FeedPolling.feed_id == feed_id).execution_options(populate_existing=True)
    ).scalar_one()
    urls = {entry["url"] for entry in entries}
    known = s.scalars(select(FeedEntry.url).where(FeedEntry.feed_id == entries_feed_id, FeedEntry.url.in_(sorted(urls))))
    new_entries = len(urls - set(known))
    polled_at = datetime.fromisoformat(outcome["fetched_at"])
    status, error_kind = outcome.get("status"), outcome.get("error_kind")
    etag, last_modified = outcome.get("etag"), outcome.get("last_modified")
    same_validators = same_body = None
    state.last_polled_at, state.last_status = polled_at, status
    if error_kind is None:
        if status == 200:
            if state.body_sha1 is not None:
                same_body = state.body_sha1 == outcome.get("body_sha1")
                before = (state.etag, state.last_modified)
                if before != (None, None) and (etag, last_modified) != (None, None):
                    same_validators = before == (etag, last_modified)
            state.body_sha1 = outcome.get("body_sha1")
            state.etag, state.last_modified = etag, last_modified
        state.last_success_at = polled_at
        state.consecutive_errors = 0
        if new_entries:
            state.last_new_entry_at = polled_at
    else:
        state.consecutive_errors = FeedPolling.consecutive_errors + 1  # atomic: two crawls may fail at once
        state.last_error, state.last_error_kind, state.last_error_at = outcome.get("error"), error_kind, polled_at
    s.add(
        FeedPollOutcome(
            feed_id=feed_id,
            polled_at=polled_at,
            status=status,
            error_kind=error_kind,
            error=outcome.get("error"),
            retry_after=outcome.get("retry_after"),
            conditional=bool(outcome.get("conditional")),
            entries=len(entries) if status == 200 and error_kind is None else None,
            new_entries=new_entries,
            same_validators=same_validators,
            same_body=same_body,
        )
    )
    s.flush()


def poll_plans(s: Session, source_name: str, urls: Sequence[str]) -> dict[str, FeedPlan]:
    """What to send when polling these feeds of a source, and which of their entries are known."""
    ids = _feed_ids(s, source_name, urls)
    states = {row.feed_id: row for row in s.scalars(select(FeedPolling).where(FeedPolling.feed_id.in_(ids.values())))}
    plans = {}
    for url in urls:
        feed_id = ids.get(url)
        state = states.get(feed_id) if feed_id is not None else None
        known = frozenset(s.scalars(_archived_entries(feed_id))) if feed_id else frozenset()
        conditional = state is not None and state.conditional
        plans[url] = FeedPlan(
            url,
            state.etag if conditional and state is not None else None,
            state.last_modified if conditional and state is not None else None,
            known,
        )
    return plans


def _archived_entries(feed_id: int) -> Select[tuple[str]]:
    """The URLs of a feed's entries with a capture by the feed's source: an entry stored with
    its feed whose page then failed to be stored (a disk full) is not archived, and the next
    poll fetches it again."""
    captured = exists().where(Capture.url_key == FeedEntry.url_key, Capture.source_id == Feed.source_id)
    return select(FeedEntry.url).join(Feed, Feed.id == FeedEntry.feed_id).where(FeedEntry.feed_id == feed_id, captured)


def due_feeds(s: Session, source_name: str, urls: Sequence[str], now: datetime) -> list[str]:
    """The feeds among ``urls`` whose next poll is due (or never planned), in the given order."""
    ids = _feed_ids(s, source_name, urls)
    due = set(
        s.scalars(
            select(FeedPolling.feed_id).where(
                FeedPolling.feed_id.in_(ids.values()),
                (FeedPolling.next_poll_at.is_(None)) | (FeedPolling.next_poll_at <= now),
            )
        )
    )
    return [url for url in urls if ids.get(url) in due]


def polled_since(s: Session, source_name: str, urls: Sequence[str], since: datetime) -> set[str]:
    """The feeds among ``urls`` with a fetch recorded at or after ``since``."""
    ids = _feed_ids(s, source_name, urls)
    polled = set(
        s.scalars(
            select(FeedPolling.feed_id).where(
                FeedPolling.feed_id.in_(ids.values()), FeedPolling.last_polled_at >= since
            )
        )
    )
    return {url for url, feed_id in ids.items() if feed_id in polled}


def postpone(s: Session, source_name: str, urls: Sequence[str], until: datetime) -> None:
    """Move the next poll of these feeds to ``until`` without counting anything against them."""
    ids = _feed_ids(s, source_name, urls)
    s.execute(update(FeedPolling).where(FeedPolling.feed_id.in_(ids.values())).values(next_poll_at=until))


def pending_outcomes(s: Session) -> list[tuple[FeedPollOutcome, FeedPolling]]:
    """Outcomes not applied yet, oldest first, each with its feed's state."""
    rows = s.execute(
        select(FeedPollOutcome, FeedPolling)
        .join(FeedPolling, FeedPolling.feed_id == FeedPollOutcome.feed_id)
        .order_by(FeedPollOutcome.id)
        .execution_options(populate_existing=True)
    )
    return [(outcome, state) for outcome, state in rows]


def apply_decisions(s: Session, state: FeedPolling, outcome: FeedPollOutcome, decisions: Mapping[str, Any]) -> None:
    """Write the daemon's decisions into ``state`` and take ``outcome`` off the queue.

    Through the session's object, so a later outcome of the same feed in the same
    transaction sees them; the flush writes only these columns, not the crawl's facts.
    """
    for name, value in decisions.items():
        setattr(state, name, value)
    s.delete(outcome)
    s.flush()


def feed_statuses(s: Session, source_name: str | None = None) -> list[FeedStatus]:
    """Every feed with a polling state, by source and URL."""
    query = (
        select(Source.name, Feed.url, Feed.title, FeedPolling)
        .join(Feed, Feed.id == FeedPolling.feed_id)
        .join(Source, Source.id == Feed.source_id)
        .order_by(Source.name, Feed.url)
    )
    if source_name is not None:
        query = query.where(Source.name == source_name)
    return [FeedStatus(name, url, title, state) for name, url, title, state in s.execute(query)]


def record_failure(s: Session, source_name: str, url: str, polled_at: datetime, kind: str, error: str) -> None:
    """Record a failed fetch of ``url`` that the crawl itself could not report (it died first)."""
    feed_id = _feed_ids(s, source_name, [url])[url]
    source_id = s.scalars(select(Feed.source_id).where(Feed.id == feed_id)).one()
    outcome = {"feed_url": url, "fetched_at": polled_at.isoformat(), "error_kind": kind, "error": error}
    record_poll(s, source_id, outcome, [], feed_id)
