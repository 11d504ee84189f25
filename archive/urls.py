"""Canonical URL keys: the one place that decides when two URLs name the same page.

Captures and feed entries are looked up by this key, so variants of a URL (query
arguments in another order, a fragment, an upper-case host, a default port, different
percent-encoding) find the same rows. The normalisation is w3lib's ``canonicalize_url``,
not a hand-written regex.

When the CDXJ index arrives, ``url_key`` will return a SURT key (``com,example)/path``)
instead; stored keys will then be rewritten by a migration, so callers must treat the
key as opaque and always compute it with this function.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url

_DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}


def url_key(url: str) -> str:
    """Return the lookup key of ``url``: canonical form, no fragment, no default port.

    >>> url_key("HTTP://Example.COM:80/a?z=1&a=2#top")
    'http://example.com/a?a=2&z=1'
    """
    canonical = canonicalize_url(url.strip(), keep_fragments=False)
    parts = urlsplit(canonical)
    scheme = parts.scheme.lower()
    userinfo, at, hostport = parts.netloc.rpartition("@")
    hostport = hostport.lower()
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port is not None and hostport.endswith(f":{default_port}"):
        hostport = hostport[: -len(f":{default_port}")]
    return urlunsplit((scheme, f"{userinfo}{at}{hostport}", parts.path or "/", parts.query, ""))
