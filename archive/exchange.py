"""One HTTP exchange as seen on the wire: what the WARC writer stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """A request and its response.

    ``body`` is the entity body as received: transfer coding (chunked) removed, content
    coding (gzip, br) kept. Header lists keep order and repeated names (``Set-Cookie``).
    """

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    protocol: str
    response_headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime
    ip_address: str | None = None

