"""URL keys: the one place that decides when two URLs name the same page.

The key is a SURT (``com,example)/path?a=1``), computed by the ``surt`` package exactly as
pywb and cdxj-indexer compute it, so the database, syndicrawl's CDXJ indexes and any
pywb index of the same WARCs agree on every key. Variants of a URL share a key: scheme,
``www.``, case, default port, query argument order, fragment and a trailing slash do not
count. Callers treat the key as opaque and always compute it with this function.
"""

from __future__ import annotations


def url_key(url: str) -> str:
    """Return the SURT lookup key of ``url``.

    >>> url_key("HTTP://www.Example.COM:80/a/?z=1&a=2#top")
    'com,example)/a?a=2&z=1'
    """
    # Loaded by the first key, not with the catalog: surt loads tldextract and requests
    # (0.09 s), which the archive writer can do once the crawl has started (archive/service.py).
    import surt

    return str(surt.surt(url.strip()))
