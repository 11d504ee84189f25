"""Posts, replies and the HTTP behaviour that every generated site shares.

A site is a pure function from a request to a `Reply` whose body is exactly what goes on
the wire (already gzip-encoded when its headers say so), so a test can compare captured
bytes with `reply_for()` and the server stays a dumb transport. `GeneratedSite` adds what
real blog hosts do: conditional GET (ETag, Last-Modified, 304), gzip when the client
accepts it, a 301 to the trailing-slash form of a known path, and a templated 404.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Protocol
from urllib.parse import parse_qs

logger = logging.getLogger(__name__)

# Types a web server would compress; sitemaps sent as .gz files are already compressed.
_COMPRESSIBLE = ("text/", "application/xml", "application/json", "application/javascript")


@dataclass(frozen=True)
class Post:
    """One article as its site published it; `html_body` is trusted HTML, inserted as is."""

    slug: str
    title: str
    author: str
    published: datetime
    updated: datetime | None
    html_body: str
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for when in (self.published, self.updated):
            if when is not None and when.utcoffset() is None:
                raise ValueError(f"post {self.slug!r}: dates must be timezone-aware, got {when}")

    @property
    def modified(self) -> datetime:
        """When the post last changed: what Last-Modified, sitemaps and feeds report."""
        return self.updated or self.published


@dataclass(frozen=True)
class Reply:
    """A whole HTTP response; header names may repeat (Set-Cookie) and keep their order."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of header `name` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


class Site(Protocol):
    """Anything a `SiteServer` can serve."""

    def route(self, path_and_query: str, request_headers: Mapping[str, str]) -> Reply:
        """Answer one request; `request_headers` names may be in any case."""


@dataclass(frozen=True)
class Resource:
    """A page before negotiation: its identity body, type and modification time."""

    body: bytes
    content_type: str
    modified: datetime | None = None
    status: int = 200


def redirect(status: int, location: str) -> Reply:
    """Return a redirect with the small HTML body servers send along."""
    body = f'<html><body><p>Moved to <a href="{location}">{location}</a>.</p></body></html>\n'
    headers = (("Location", location), ("Content-Type", "text/html; charset=UTF-8"))
    return Reply(status, headers, body.encode())


def http_date(when: datetime) -> str:
    """Format `when` as an HTTP date (RFC 7231), e.g. for Last-Modified."""
    return format_datetime(when.astimezone(timezone.utc), usegmt=True)


class GeneratedSite:
    """A site whose pages are rendered once, at construction, into `resources` by path.

    Subclasses fill `resources`, set `not_found` and may override `resolve` for paths that
    depend on the query string.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.resources: dict[str, Resource | Reply] = {}
        self.not_found = Resource(b"Not Found\n", "text/plain; charset=UTF-8", status=404)

    def resolve(self, path: str, query: Mapping[str, list[str]]) -> Resource | Reply | None:
        """Return what `path` serves; most pages ignore the query, as blog engines do."""
        return self.resources.get(path)

    def route(self, path_and_query: str, request_headers: Mapping[str, str]) -> Reply:
        """Answer a request the way the real platform's web server would."""
        path, _, query = path_and_query.partition("?")
        found = self.resolve(path, parse_qs(query))
        if found is None and not path.endswith("/") and path + "/" in self.resources:
            found = redirect(301, f"{self.base_url}{path}/")
        if isinstance(found, Reply):
            return found
        headers = {name.lower(): value for name, value in request_headers.items()}
        return negotiate(found or self.not_found, headers)

    def reply_for(self, path_and_query: str, request_headers: Mapping[str, str] | None = None) -> Reply:
        """Return the exact reply a request would get (by default, one with no headers)."""
        return self.route(path_and_query, request_headers or {})


def negotiate(resource: Resource, headers: Mapping[str, str]) -> Reply:
    """Turn `resource` into a reply for a client sending `headers` (lower-case names)."""
    out = [("Content-Type", resource.content_type)]
    if resource.modified is not None:
        out.append(("Last-Modified", http_date(resource.modified)))
    compressible = resource.content_type.startswith(_COMPRESSIBLE) or "+xml" in resource.content_type
    if resource.status == 200:
        # Weak: the same tag names the gzip and identity forms, as nginx does.
        etag = f'W/"{hashlib.sha1(resource.body).hexdigest()[:20]}"'
        out.append(("ETag", etag))
        if _not_modified(headers, etag, resource.modified):
            return Reply(304, tuple(out[1:]), b"")
    if compressible:
        out.append(("Vary", "Accept-Encoding"))
    if compressible and _accepts_gzip(headers.get("accept-encoding", "")):
        out.append(("Content-Encoding", "gzip"))
        return Reply(resource.status, tuple(out), gzip.compress(resource.body, mtime=0))
    return Reply(resource.status, tuple(out), resource.body)


def _not_modified(headers: Mapping[str, str], etag: str, modified: datetime | None) -> bool:
    """Apply RFC 7232: If-None-Match wins over If-Modified-Since when both are sent."""
    if "if-none-match" in headers:
        tags = {tag.strip().removeprefix("W/") for tag in headers["if-none-match"].split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    since = headers.get("if-modified-since")
    if since is None or modified is None:
        return False
    try:
        client_time = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        logger.debug("ignoring unparsable If-Modified-Since %r", since)
        return False
    if client_time.tzinfo is None:
        client_time = client_time.replace(tzinfo=timezone.utc)
    return modified.replace(microsecond=0) <= client_time


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (a q=0 parameter refuses it)."""
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.replace(" ", "").lower().removeprefix("q=")
            try:
                return not params or float(quality) > 0
            except ValueError:
                return False
    return False
