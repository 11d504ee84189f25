"""The address decision and the crawl's resolver, tested without a socket (#17.11, #17.12).

``refusal`` is judged on resolved addresses; the resolver is fed answers through Scrapy's DNS
cache, which it reads before any lookup, so no name is ever looked up and nothing is connected.
The spellings of 127.0.0.1 are followed along the path a request takes: the host Twisted gives
the resolver is the spelling as written, and the lookup (``gethostbyname``) reads it as libc's
``inet_aton`` does. ``test_ssrf_netns.py`` crawls all of this for real, inside a namespace.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest
import scrapy
from hypothesis import given
from hypothesis import strategies as st
from scrapy.resolver import dnscache
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure
from twisted.web.client import URI

from crawler.addresses import GuardedResolver, in_domains, refusal


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("10.0.0.1", "a private address"),
    ("172.16.5.4", "a private address"),
    ("192.168.1.1", "a private address"),
    ("169.254.169.254", "a link-local address (cloud metadata services live there)"),
    ("100.100.100.200", "not a public address"),  # Alibaba's metadata service, in shared space
    ("0.0.0.0", "the unspecified address"),
    ("224.0.0.251", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("240.0.0.1", "a private address"),  # reserved
    ("255.255.255.255", "a private address"),
    ("::1", "a loopback address"),
    ("::", "the unspecified address"),
    ("fe80::1", "a link-local address (cloud metadata services live there)"),
    ("fd00:ec2::254", "a private address"),  # AWS's IPv6 metadata service
    ("ff02::1", "a multicast address"),
    ("::ffff:127.0.0.1", "127.0.0.1 in IPv6 form, a loopback address"),
    ("::ffff:169.254.169.254", "169.254.169.254 in IPv6 form, a link-local address (cloud metadata services live there)"),
    ("::10.0.0.1", "10.0.0.1 in IPv6 form, a private address"),  # IPv4-compatible
    ("64:ff9b::a9fe:a9fe", "169.254.169.254 in IPv6 form, a link-local address (cloud metadata services live there)"),
    ("2002:7f00:1::", "127.0.0.1 in IPv6 form, a loopback address"),  # 6to4
    ("64:ff9b:1::1", "not a public address"),  # NAT64 for local use
])  # fmt: skip
def test_addresses_off_the_public_internet_are_refused(address: str, reason: str) -> None:
    assert refusal(address) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34",
                                     "64:ff9b::808:808"])
def test_public_addresses_are_fetched(address: str) -> None:
    assert refusal(address) is None


LOCAL_V4 = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                                 "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",
                                                 "240.0.0.0/4")]
LOCAL_V6 = [ipaddress.ip_network(n) for n in ("fc00::/7", "fe80::/10", "ff00::/8")]


def _in(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> st.SearchStrategy:
    return st.integers(0, network.num_addresses - 1).map(lambda i: network[i])


local_v4 = st.one_of(*map(_in, LOCAL_V4))


@given(st.one_of(
    local_v4,
    st.one_of(*map(_in, LOCAL_V6)),
    local_v4.map(lambda ip: ipaddress.IPv6Address(f"::ffff:{ip}")),  # IPv4-mapped
    local_v4.map(lambda ip: ipaddress.IPv6Address(int(ip) | (0x64FF9B << 96))),  # NAT64
    local_v4.map(lambda ip: ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80))),  # 6to4
    local_v4.filter(lambda ip: int(ip) > 1).map(lambda ip: ipaddress.IPv6Address(int(ip))),  # IPv4-compatible
))
def test_every_address_of_a_local_range_is_refused_in_every_form(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert refusal(ip) is not None


def test_domains_match_as_scrapys_offsite_filter_does() -> None:
    assert in_domains("example.test", ["example.test"])
    assert in_domains("www.Example.test.", ["example.test"])
    assert not in_domains("notexample.test", ["example.test"])
    assert not in_domains("example.test.evil.test", ["example.test"])


@pytest.fixture
def resolver() -> Iterator[GuardedResolver]:
    """The crawl's resolver with ``private.test`` allowed; no reactor (a lookup would fail at once)."""
    seeded: list[str] = []

    class Seeded(GuardedResolver):
        def seed(self, name: str, address: str) -> None:
            dnscache[name] = address
            seeded.append(name)

    yield Seeded(None, 100, 1.0, ["private.test"])  # type: ignore[arg-type]
    for name in seeded:
        dnscache.pop(name, None)


def answer(resolver: GuardedResolver, name: str) -> str:
    """The resolver's answer for ``name``, or the reason it fails with."""
    results: list[object] = []
    resolver.getHostByName(name).addBoth(results.append)
    [result] = results  # answered at once: from the cache, or refused before any lookup
    if isinstance(result, Failure):
        assert result.check(DNSLookupError)
        return f"refused: {result.value.args[0]}"
    return str(result)


def test_a_name_resolving_to_a_private_address_is_refused_and_the_reason_kept(resolver) -> None:
    resolver.seed("meta.test", "169.254.169.254")
    reason = "meta.test resolves to 169.254.169.254, a link-local address (cloud metadata services live there)"
    assert answer(resolver, "meta.test") == f"refused: {reason}"
    assert resolver.refused == {"meta.test": reason}


def test_the_domains_of_sources_that_allow_private_addresses_resolve_to_them(resolver) -> None:
    resolver.seed("www.private.test", "10.0.0.1")
    resolver.seed("private.test.evil.test", "10.0.0.1")
    assert answer(resolver, "www.private.test") == "10.0.0.1"
    assert answer(resolver, "private.test.evil.test").startswith("refused: ")


def test_every_answer_is_checked_so_a_name_rebound_to_a_private_address_is_refused(resolver) -> None:
    resolver.seed("rebind.test", "93.184.216.34")
    assert answer(resolver, "rebind.test") == "93.184.216.34"
    resolver.seed("rebind.test", "127.0.0.1")  # the next answer, for a redirect hop or the next page
    assert answer(resolver, "rebind.test") == "refused: rebind.test resolves to 127.0.0.1, a loopback address"


@pytest.mark.parametrize("url", ["http://2130706433:8770/", "http://0x7f.1:8770/", "http://0177.0.0.1:8770/",
                                 "http://127.1:8770/", "http://0:8770/"])
def test_spellings_of_a_local_address_reach_the_resolver_as_written_and_are_refused(resolver, url: str) -> None:
    _, _, host = HostnameEndpoint._hostAsBytesAndText(URI.fromBytes(scrapy.Request(url).url.encode()).host)
    assert host == url.split("//")[1].split(":")[0]
    address = socket.inet_ntoa(socket.inet_aton(host))  # how gethostbyname reads a numeric name
    assert refusal(address) is not None
    resolver.seed(host, address)
    assert answer(resolver, host).startswith(f"refused: {host} resolves to {address}, ")


def test_an_ipv6_literal_is_judged_before_any_lookup(resolver) -> None:
    host = URI.fromBytes(scrapy.Request("http://[::ffff:127.0.0.1]:8770/").url.encode()).host.decode()
    assert answer(resolver, host) == "refused: ::ffff:127.0.0.1 is 127.0.0.1 in IPv6 form, a loopback address"
