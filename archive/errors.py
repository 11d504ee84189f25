"""The archive's exceptions: one base class, a subclass per kind of failure.

The CLI turns each into a single line; the message must say what went wrong and where
(file, source and field; WARC file and offset; URL).
"""

from __future__ import annotations

import errno


class SyndicrawlError(Exception):
    """Base class of every error syndicrawl reports to a user."""


class ConfigError(SyndicrawlError):
    """A settings or sources file is invalid; nothing is crawled."""


def cannot_listen(host: str, port: int, exc: OSError) -> ConfigError:
    """A server that cannot bind (its port in use, an address not this host's), as one line; a port in
    use names the way out (both servers, ``serve`` and ``demo``, take ``--port``)."""
    hint = "; give another --port, or --port 0 for any free one" if exc.errno == errno.EADDRINUSE else ""
    return ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}")


class WarcError(SyndicrawlError):
    """A WARC file or record cannot be read or written."""


class NotFoundError(SyndicrawlError):
    """A URL, capture or article is not in the archive."""


class ExtractionError(SyndicrawlError):
    """trafilatura failed, timed out or found no article text on a page."""


class NotAnArticle(ExtractionError):
    """A page's extraction is not an article (a listing, a list of links): it stays a capture."""


class QueryError(SyndicrawlError):
    """A lookup's parameters are invalid: a time that is not one, an unknown match type or filter."""


class LockHeld(SyndicrawlError):
    """Another process holds a lock (``archive.db.locks``): a source is being crawled elsewhere."""


class LockLost(SyndicrawlError):
    """A crawl's lock could not be renewed in time, or was taken: the crawl stopped."""
