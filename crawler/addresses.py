"""Which addresses a crawl may connect to, decided on the address the connection uses.

Scope is checked on host names; a name in scope may still resolve to the crawling machine itself
(127.0.0.1), its private network (10.0.0.1) or a cloud's metadata service (169.254.169.254), and a
link or redirect may spell such an address as ``2130706433``, ``0x7f.1`` or ``0177.0.0.1``. So the
crawl's resolver checks the address it hands to the connection: every request and redirect hop
resolves its host through it, IP literals and odd spellings included (Twisted's
``HostnameEndpoint`` resolves every host), and a name that answers differently the second time
(DNS rebinding) is checked on the answer that is connected to. Only the hosts of a source with
``private_addresses = true`` (the demo, the tests) may resolve to such addresses.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from scrapy.exceptions import CannotResolveHostError
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import defer
from twisted.internet.error import ConnectError, DNSLookupError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from scrapy import Request
    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred
    from typing_extensions import Self

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: IPv6 prefixes that carry an IPv4 address in their last 32 bits and reach it: IPv4-compatible
#: (deprecated, still routed by some stacks) and the NAT64 well-known prefix. IPv4-mapped and 6to4
#: addresses have their own accessors (``ipv4_mapped``, ``sixtofour``).
_CARRIERS = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b::/96"))

#: NAT64 for local use (RFC 8215): it reaches whatever the local translator reaches; Python counts it global.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")

#: Setting: the domains (as in ``allowed_domains``, subdomains included) that may resolve to
#: addresses ``refusal`` refuses; the scopes of the sources with ``private_addresses = true``.
PRIVATE_DOMAINS = "SYNDICRAWL_PRIVATE_DOMAINS"

HINT = "a source reaches such addresses only with private_addresses = true"


def _carried(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the spellings that reach it."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _CARRIERS) and int(ip) > 1:  # '::' and '::1' are IPv6's own
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(address: str | Address) -> str | None:
    """Why a crawl must not connect to ``address`` (an IP address, as resolved), or None.

    Anything not globally reachable is refused (loopback, RFC 1918 and unique-local, link-local
    with the cloud metadata services, shared, reserved, documentation ranges), and multicast,
    which Python counts as global; an IPv6 address carrying an IPv4 one is judged by that one.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _carried(ip)) is not None:
        reason = refusal(inner)
        return None if reason is None else f"{inner} in IPv6 form, {reason}"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global or ip in _LOCAL_NAT64:
        return "not a public address"
    return None


def _literal(name: str) -> Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def in_domains(host: str, domains: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or under one, as Scrapy's offsite filter matches."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith(f".{d}") for d in (d.lower() for d in domains))


class AddressRefused(ConnectError):
    """A connection the guard refused: reported like a host that cannot be connected to."""

    MESSAGE = "refused"


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's default resolver (cached, timed), failing the lookup of any host that resolves to
    an address ``refusal`` refuses, unless the host is in a ``PRIVATE_DOMAINS`` domain.

    Twisted drops the reason of a failed lookup (the request fails with "Couldn't find the
    hostname"), so it is kept in ``refused`` by host, where ``AddressGuardMiddleware`` finds it.
    """

    def __init__(self, reactor: ReactorBase, cache_size: int, timeout: float, private_domains: Sequence[str]) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.private_domains = tuple(private_domains)
        self.refused: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), settings.getlist(PRIVATE_DOMAINS))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:  # noqa: N802 (Twisted's name)
        literal = _literal(name)
        if isinstance(literal, ipaddress.IPv6Address):  # this IPv4 resolver would only fail to find it
            message = self._refuse(str(literal), name)
            if message is not None:
                return defer.fail(DNSLookupError(message))
        return super().getHostByName(name, timeout).addCallback(self._check, name)

    def _check(self, address: str, name: str) -> str:
        message = self._refuse(address, name)
        if message is not None:
            raise DNSLookupError(message)
        return address

    def _refuse(self, address: str, name: str) -> str | None:
        """Why ``name``, resolved to ``address``, must not be connected to (kept in ``refused``), or None."""
        reason = refusal(address)
        if reason is None or in_domains(name, self.private_domains):
            return None
        message = f"{name} is {reason}" if _literal(name) is not None else f"{name} resolves to {address}, {reason}"
        self.refused[name.lower()] = message
        return message


class AddressGuardMiddleware:
    """Gives a request the guard refused its reason (one line from the spider, as for a host that
    cannot be connected to) instead of "host name not found", and no retry: placed above Scrapy's
    retry middleware, whose turn for the exception never comes."""

    def process_exception(self, request: Request, exception: Exception) -> None:
        from twisted.internet import reactor

        resolver = getattr(reactor, "resolver", None)
        if isinstance(exception, CannotResolveHostError) and isinstance(resolver, GuardedResolver):
            reason = resolver.refused.get((urlparse_cached(request).hostname or "").lower())
            if reason is not None:
                redirects = request.meta.get("redirect_urls")
                via = f" (a redirect from {redirects[0]})" if redirects else ""
                raise AddressRefused(string=f"{reason}{via}; {HINT}") from exception
