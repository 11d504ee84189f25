"""One delay per host for the whole crawl, whichever source's crawler fetches from it.

Each source is its own Scrapy crawler (own scope, settings, WARC files), so each has its own
downloader, and a downloader keeps the delay between requests per slot (a host) of its own:
1,196 sources on one host each kept theirs and sent the host ~1,250 requests in 5 s. Here the
slots of one host in every crawler of the process share the time of the host's last request
and the jitter of the next wait, so Scrapy's own slot logic (the delay, its jitter, AutoThrottle's
adjustments) spaces the host's requests, whichever source sends them. A crawl is one process
(the reactor cannot be restarted), so a module-level table is the crawl's.

So are the host's transfers: at most ``concurrent_requests_per_domain`` requests are downloaded
from a host at once, by all the sources on it. With ``download_delay = 0`` a source sent a host 9
at once (the limit is 4; three sources, 29): Scrapy 2.19's downloader counts a request as
transferring only once the task that downloads it runs, and with no delay to wait its loop hands
the whole queue to tasks first (``_DispatchQueue`` counts it as it leaves the queue).

With ``[queue] redis_url`` set, crawls run in many processes on many machines: then each request
to a host is first reserved in Redis (``SharedHostSlot``), so the host's delay holds across all of them.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from dataclasses import dataclass, field
from functools import cache
from time import monotonic
from typing import TYPE_CHECKING, Any
from weakref import WeakSet

from scrapy.core.downloader import Downloader, Slot

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.http import Response
    from scrapy.crawler import Crawler


@dataclass
class _Host:
    """When a host was last sent a request (``time.monotonic()``), by any source, and the random
    factor of the wait before its next one (drawn once per request sent, None until then); the
    requests being downloaded from it, and the downloaders (sources) with a slot for it."""

    last: float = 0.0
    factor: float | None = None
    transferring: set[Request] = field(default_factory=set)
    downloaders: WeakSet[HostDownloader] = field(default_factory=WeakSet)


#: Slot key (a host name) -> its state, for every crawler of this process.
_HOSTS: defaultdict[str, _Host] = defaultdict(_Host)


class _DispatchQueue(deque[Any]):
    """A slot's queue of ``(request, deferred)`` whose requests count as transferring as they
    leave it, not once their download task runs (see the module's docstring)."""

    def __init__(self, transferring: set[Request]) -> None:
        super().__init__()
        self._transferring = transferring

    def popleft(self) -> Any:
        request, deferred = super().popleft()
        self._transferring.add(request)  # Downloader._download adds it again, and removes it when done
        return request, deferred


class HostSlot(Slot):
    """A downloader slot whose ``lastseen`` and jitter are its host's, shared by every crawler's slot."""

    __slots__ = ("key",)

    def __init__(self, key: str, concurrency: int, delay: float, jitter: float) -> None:
        self.key = key
        super().__init__(concurrency, delay, jitter)
        self.queue = _DispatchQueue(self.transferring)

    @property  # type: ignore[override]
    def transferring(self) -> set[Request]:
        """The host's, for every crawler: ``free_transfer_slots`` counts all the host's downloads."""
        return _HOSTS[self.key].transferring

    @transferring.setter
    def transferring(self, value: set[Request]) -> None:
        pass  # Slot.__init__ sets an empty set: the host's stays

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


#: Takes the host's next free moment if it has come, and moves it ``interval`` µs on; else says
#: how many µs are left. Redis's clock: the machines' clocks need not agree. Each request granted
#: is counted in its minute (``syndicrawl status`` shows the last one's).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
if free > now then return free - now end
redis.call('SET', KEYS[1], now + tonumber(ARGV[1]), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
local minute = KEYS[2] .. math.floor(tonumber(t[1]) / 60)
redis.call('INCR', minute)
redis.call('EXPIRE', minute, 180)
return 0
"""


def sent_key(prefix: str, host: str) -> str:
    """The start of the keys counting the requests granted to ``host``, one per minute (Unix time // 60)."""
    return f"{prefix}sent:{host}:"


class RedisHosts:
    """Each host's next free moment, in Redis keys ``PREFIX host:NAME``, for every process and machine."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis  # only when configured: a crawl on one machine never loads it

        self.prefix = prefix
        self._reserve = redis.Redis.from_url(url, socket_timeout=10).register_script(_RESERVE)

    def reserve(self, host: str, interval: float) -> float:
        """0 if a request may go to ``host`` now (the next waits ``interval`` s); else the seconds to wait."""
        keys = [f"{self.prefix}host:{host}", sent_key(self.prefix, host)]
        return int(self._reserve(keys=keys, args=[int(interval * 1_000_000)])) / 1_000_000


@cache
def redis_hosts(url: str, prefix: str) -> RedisHosts:
    """One connection for every crawler of the process."""
    return RedisHosts(url, prefix)


class SharedHostSlot(HostSlot):
    """A ``HostSlot`` that reserves each request's moment in Redis before it goes.

    Scrapy's downloader sends the next queued request when ``delay - now + lastseen <= 0``, else
    looks again ``delay - now + lastseen`` s later (``delay``: ``download_delay()``): so reading
    ``lastseen`` with a request ready to go (queued, a transfer slot free) reserves the host, and
    gives the wait Redis says is left, or a moment past the delay when the reservation was granted. A read with nothing to send (Scrapy's
    slot clean-up) reserves nothing. The jitter is drawn once per reservation.
    """

    __slots__ = ("hosts",)

    def __init__(self, key: str, concurrency: int, delay: float, jitter: float, hosts: RedisHosts) -> None:
        self.hosts = hosts
        super().__init__(key, concurrency, delay, jitter)

    @property  # type: ignore[override]
    def lastseen(self) -> float:
        if not (self.delay and self.queue and self.free_transfer_slots() > 0):
            return _HOSTS[self.key].last
        interval = self.delay * (1 + random.uniform(-self.jitter, self.jitter))  # noqa: S311 - not a secret
        wait = self.hosts.reserve(self.key, interval)
        return monotonic() - self.download_delay() + (wait or -1.0)  # Scrapy adds back download_delay()

    @lastseen.setter
    def lastseen(self, value: float) -> None:
        HostSlot.lastseen.fset(self, value)  # type: ignore[attr-defined]


class HostDownloader(Downloader):
    """Scrapy's downloader with ``HostSlot`` slots (the ``DOWNLOADER`` setting); ``SharedHostSlot``
    ones when ``SYNDICRAWL_HOSTS_REDIS`` names a Redis (``SYNDICRAWL_HOSTS_PREFIX``: its key prefix)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        url = crawler.settings.get("SYNDICRAWL_HOSTS_REDIS")
        self.hosts = redis_hosts(url, crawler.settings.get("SYNDICRAWL_HOSTS_PREFIX", "")) if url else None

    async def _download(self, slot: Slot, request: Request) -> Response:
        """Scrapy's download; once it ends, the host's slots in other sources' downloaders may send
        their queued requests too (Scrapy looks only at this downloader's slot)."""
        try:
            return await super()._download(slot, request)
        finally:
            key = self.get_slot_key(request)
            for downloader in list(_HOSTS[key].downloaders):
                other = downloader.slots.get(key)
                if downloader is not self and other is not None and other.queue:
                    downloader._process_queue(other)

    def _get_slot(self, request: Request, spider: Spider | None = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)
        _HOSTS[key].downloaders.add(self)
        if not isinstance(slot, HostSlot):  # just made by Scrapy, with the delay and jitter it chose
            args = (key, slot.concurrency, slot.delay, slot.jitter)
            slot = self.slots[key] = SharedHostSlot(*args, self.hosts) if self.hosts else HostSlot(*args)
        return key, slot
