"""One delay per host for the whole crawl, whichever source's crawler fetches from it.

Each source is its own Scrapy crawler (own scope, settings, WARC files), so each has its own
downloader, and a downloader keeps the delay between requests per slot (a host) of its own:
1,196 sources on one host each kept theirs and sent the host ~1,250 requests in 5 s. Here the
slots of one host in every crawler of the process share the time of the host's last request
and the jitter of the next wait, so Scrapy's own slot logic (the delay, its jitter, AutoThrottle's
adjustments) spaces the host's requests, whichever source sends them. A crawl is one process
(the reactor cannot be restarted), so a module-level table is the crawl's.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy.core.downloader import Downloader, Slot

if TYPE_CHECKING:
    from scrapy import Request, Spider


@dataclass
class _Host:
    """When a host was last sent a request (``time.monotonic()``), by any source, and the random
    factor of the wait before its next one (drawn once per request sent, None until then)."""

    last: float = 0.0
    factor: float | None = None


#: Slot key (a host name) -> its state, for every crawler of this process.
_HOSTS: defaultdict[str, _Host] = defaultdict(_Host)


class HostSlot(Slot):
    """A downloader slot whose ``lastseen`` and jitter are its host's, shared by every crawler's slot."""

    __slots__ = ("key",)

    def __init__(self, key: str, concurrency: int, delay: float, jitter: float) -> None:
        self.key = key
        super().__init__(concurrency, delay, jitter)

    @property  # type: ignore[override]
    def lastseen(self) -> float:
        return _HOSTS[self.key].last

    @lastseen.setter
    def lastseen(self, value: float) -> None:
        host = _HOSTS[self.key]
        if value > host.last:  # never backwards: Slot.__init__ sets 0, and a new source's slot must not forget the host
            host.last, host.factor = value, None

    def download_delay(self) -> float:
        """Scrapy draws the jitter each time a slot looks at its queue: with 50 slots waiting on one
        host, the earliest of 50 draws won each time, and the host's waits shrank to half the delay."""
        host = _HOSTS[self.key]
        if host.factor is None:
            host.factor = 1 + random.uniform(-self.jitter, self.jitter)  # noqa: S311 - not a secret
        return max(0.0, self.delay * host.factor)


class HostDownloader(Downloader):
    """Scrapy's downloader with ``HostSlot`` slots (the ``DOWNLOADER`` setting)."""

    def _get_slot(self, request: Request, spider: Spider | None = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)
        if not isinstance(slot, HostSlot):  # just made by Scrapy, with the delay and jitter it chose
            slot = self.slots[key] = HostSlot(key, slot.concurrency, slot.delay, slot.jitter)
        return key, slot
