"""Polls: the conditional requests for feeds and for article pages due a recheck, and the outcome
of fetching a feed as plain data.

The outcome travels with the feed's item to the archive writer (``FeedPage.poll``), which
records it (``archive.db.feedpolls.record_poll``); the scheduler daemon decides from it when to
poll next. Only the feeds of the sources file get outcomes: they are the ones polled. A recheck
needs none: its capture (a 304 is a revisit record) moves the page's schedule on
(``archive.db.rechecks``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol

from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

from crawler.addresses import AddressRefused
from syndicrawl.sources import Source

if TYPE_CHECKING:
    import scrapy
    from twisted.python.failure import Failure

    from archive.db.feedpolls import FeedPlan
    from archive.db.rechecks import RecheckPlan

#: request.meta key: the configured feed URL this request polls (kept across redirects).
POLL_FEED = "syndicrawl_poll_feed"
#: request.meta key: the capture whose validators a recheck of an article page sends.
RECHECK = "syndicrawl_recheck"


class Validators(Protocol):
    """What a conditional request sends: a feed's plan, a page's recheck plan."""

    @property
    def etag(self) -> str | None: ...

    @property
    def last_modified(self) -> str | None: ...


@dataclass(frozen=True)
class PolledSource(Source):
    """A source reduced to some of its feeds for a poll (``syndicrawl crawl --poll``).

    ``plans`` says, per feed, which validators to send and which entries are already
    archived: a poll fetches only the entries it has not seen.
    """

    plans: Mapping[str, FeedPlan] = field(default_factory=dict)
    #: Article pages fetched again to see whether they changed, with the validators to send.
    rechecks: tuple[RecheckPlan, ...] = ()
    #: The whole source's feeds, sitemaps and start pages: its scope's ports (``crawler.scope``) are
    #: theirs, not only the polled feeds' (a feed on one port whose entries are on its site's).
    source_urls: tuple[str, ...] = ()

    @property
    def urls(self) -> tuple[str, ...]:
        return self.source_urls or self.feeds


def conditional_headers(plan: Validators | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since: for a feed whose validators the daemon trusts, for a page's recheck."""
    headers = {}
    if plan is not None and plan.etag:
        headers["If-None-Match"] = plan.etag
    if plan is not None and plan.last_modified:
        headers["If-Modified-Since"] = plan.last_modified
    return headers


def _header(response: scrapy.http.Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def retry_after(response: scrapy.http.Response, now: datetime) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delay-seconds or an HTTP date), if any."""
    value = _header(response, "Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds()) if when.tzinfo else None


def _base(request: scrapy.Request, now: datetime) -> dict[str, Any]:
    return {
        "feed_url": request.meta[POLL_FEED],
        "fetched_at": now.isoformat(),
        "conditional": "If-None-Match" in request.headers or "If-Modified-Since" in request.headers,
    }


def fetched(response: scrapy.http.Response, *, error: str | None = None) -> dict[str, Any]:
    """The outcome of a feed that answered 200 or 304; ``error``: its body is not a feed."""
    now = datetime.now(UTC)
    outcome = _base(response.request, now)  # type: ignore[arg-type]
    outcome.update(
        status=response.status,
        etag=_header(response, "ETag"),
        last_modified=_header(response, "Last-Modified"),
        body_sha1=hashlib.sha1(response.body).hexdigest() if response.status == 200 else None,
    )
    if error is not None:
        outcome.update(error_kind="parse", error=error)
    return outcome


def failed(request: scrapy.Request, failure: Failure) -> dict[str, Any]:
    """The outcome of a feed request that failed, with the kind of failure back-off weighs."""
    now = datetime.now(UTC)
    outcome = _base(request, now)
    response = getattr(failure.value, "response", None)
    if failure.check(HttpError) and response is not None:
        kind = "http_5xx" if response.status >= 500 else "http_4xx"
        outcome.update(status=response.status, retry_after=retry_after(response, now), error=f"HTTP {response.status}")
    elif failure.check(IgnoreRequest):
        kind = "blocked"
    elif failure.check(AddressRefused):  # a loopback, private, link-local... address: until the source allows it
        kind = "address"
    elif failure.check(DNSLookupError, CannotResolveHostError):  # Scrapy 2.19 wraps Twisted's in its own
        kind = "dns"
    elif failure.check(TimeoutError, TCPTimedOutError, DownloadTimeoutError):
        kind = "timeout"
    else:
        kind = "connection"
    outcome.setdefault("error", failure.getErrorMessage())
    outcome["error_kind"] = kind
    return outcome


def poll_source(
    source: Source, feeds: tuple[str, ...], plans: Mapping[str, FeedPlan], rechecks: tuple[RecheckPlan, ...] = ()
) -> PolledSource:
    """``source`` reduced to ``feeds`` and the article pages of ``rechecks``: no sitemaps, start
    pages or archive pages."""
    return PolledSource(
        name=source.name,
        kind=source.kind,
        feeds=feeds,
        allowed_domains=source.allowed_domains,
        backfill_pages=0,
        download_delay=source.download_delay,
        private_addresses=source.private_addresses,
        source_urls=source.urls,
        max_pages=source.max_pages,
        max_depth=source.max_depth,
        recheck=source.recheck,
        plans=plans,
        rechecks=rechecks,
    )
