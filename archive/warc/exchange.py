"""One HTTP exchange as seen on the wire: what the WARC writer stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pickle import PickleBuffer
from typing import Any, SupportsIndex


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

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        """Pickle the body out of band where the pickler takes buffers (protocol 5 with a
        ``buffer_callback``, as ``archive.ingest.messages.dump`` does): a page then goes down the
        writer process's pipe as it is, instead of being copied into the pickle first."""
        body = PickleBuffer(self.body) if int(protocol) >= 5 else self.body
        return (HttpExchange, tuple(body if name == "body" else getattr(self, name) for name in self.__slots__))
