"""URL keys: the one place that decides when two URLs name the same page.

The key is a SURT (``com,example)/path?a=1``), computed by the ``surt`` package exactly as
pywb and cdxj-indexer compute it, so the database, syndicrawl's CDXJ indexes and any
pywb index of the same WARCs agree on every key. Variants of a URL share a key: scheme,
``www.``, case, default port, query argument order, fragment and a trailing slash do not
count. Callers treat the key as opaque and always compute it with this function.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def url_key(url: str) -> str:
    """Return the SURT lookup key of ``url``.

    >>> url_key("HTTP://www.Example.COM:80/a/?z=1&a=2#top")
    'com,example)/a?a=2&z=1'
    """
    # Loaded by the first key, not with the catalog: surt loads tldextract and requests
    # (0.09 s), which the archive writer can do once the crawl has started (archive/ingest/service.py).
    import surt

    return str(surt.surt(url.strip()))


def fetch_problem(url: object) -> str | None:
    """Why a crawl cannot fetch ``url`` (http(s) with a host and a port 1-65535), or None.

    Checked where URLs come in (the sources file, feed entries): a ``javascript:`` entry link
    ended its feed's parsing, and a start URL with port 99999 stopped the archive writer.
    """
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:  # a bracketed host not closed: 'http://[::1/'
        parts = None
    host = parts.hostname if parts else None
    if not parts or parts.scheme not in {"http", "https"} or not host or any(c.isspace() for c in host):
        return "not an http(s) URL"
    try:
        port = parts.port
    except ValueError:  # out of range, or not a number
        port = -1
    if port is not None and not 0 < port < 65536:
        return "bad port (give a number 1-65535)"
    return None
