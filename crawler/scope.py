"""A source's scope: its hosts (``allowed_domains``) and, on them, its ports.

Scrapy's offsite filter compares host names only: a feed on 127.0.0.1:8770 led a crawl to
127.0.0.1:22 and :8771. A port other than a web's standard ones (80 for http, 443 for https,
between which sites move) is another service, reached only if the source's own URLs name
that scheme, host and port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware

if TYPE_CHECKING:
    from scrapy import Request, Spider

    from syndicrawl.sources import Source


STANDARD_PORTS = {"http": 80, "https": 443}


def in_scope(url: str, domains: tuple[str, ...]) -> bool:
    """Whether Scrapy's offsite filter lets ``url`` through: its host is one of ``domains`` or under one."""
    host = (urlsplit(url).hostname or "").lower()
    return not domains or any(host == d or host.endswith(f".{d}") for d in map(str.lower, domains))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").rstrip("."), parts.port or STANDARD_PORTS.get(scheme)


@dataclass(frozen=True)
class PortScope:
    """The non-standard origins (scheme, host, port) a source's own URLs name."""

    origins: frozenset[tuple[str, str, int | None]]

    @classmethod
    def of(cls, source: Source) -> PortScope:
        return cls(frozenset(o for o in map(_origin, source.urls) if STANDARD_PORTS.get(o[0]) != o[2]))

    def refusal(self, url: str) -> str | None:
        """Why ``url``'s port is out of scope, or None. Its host is Scrapy's offsite filter's business."""
        scheme, host, port = origin = _origin(url)
        if STANDARD_PORTS.get(scheme) == port or origin in self.origins:
            return None
        own = sorted(f"{s}://{h}:{p}" for s, h, p in self.origins if h == host)
        return f"port {port} is not the source's" + (f" ({', '.join(own)})" if own else "")


class ScopeMiddleware(OffsiteMiddleware):
    """Scrapy's offsite filter (host names, checked as a request is scheduled, so a link or a
    redirect hop out of scope is never fetched, nor its robots.txt) that also refuses other ports.

    A refused port is a warning line naming the URL, the page or redirect that led there and the
    reason; links to a port, or from a page, already reported are not (a page of 10,000 such links
    is one line).
    """

    def spider_opened(self, spider: Spider) -> None:
        super().spider_opened(spider)
        self.ports = PortScope.of(spider.source)  # type: ignore[attr-defined]
        self._reported: set[object] = set()

    def should_follow(self, request: Request, spider: Spider) -> bool:
        if not super().should_follow(request, spider):
            return False
        reason = self.ports.refusal(request.url)
        if reason is None:
            return True
        redirects = request.meta.get("redirect_urls")
        if redirects:
            spider.problem(f"{redirects[0]}: redirects to {request.url!r}: {reason}; not followed")  # type: ignore[attr-defined]
            return False
        page, origin = request.meta.get("syndicrawl_from"), _origin(request.url)
        if not {page, origin} & self._reported:
            self._reported |= {page, origin}
            spider.problem(f"{page}: links to {request.url!r}: {reason}; not followed")  # type: ignore[attr-defined]
        return False
