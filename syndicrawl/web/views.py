"""The researcher's view: HTML pages over the archive, beside the HTTP API (``syndicrawl.web.api``).

Routes: ``/`` (counts per source, latest articles, the search form), ``/search?q=...``,
``/article?url=...`` (metadata, text, captures, the chain as a timeline), ``/diff?url=...`` (a copy
beside its parent, or ``&from=...&to=...`` two captures of one page, the named edits marked),
``/snapshot?url=...&at=...`` (the archived page in a sandboxed frame under a banner), ``/analytics``
and ``/static/NAME``. Every
other path goes to the API, so one server answers both.

Pages run no script: each gets a Content-Security-Policy allowing only this origin's styles,
images as ``data:`` URIs and frames of this origin (the raw replay the snapshot page frames). The
frame is ``sandbox``ed without ``allow-same-origin`` or ``allow-scripts``, on top of the replay's
own ``sandbox`` policy: an archived page's script runs nowhere near the archive's cookies or API.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from archive.db import catalog
from archive.db.timestamps import parse_time, parse_timestamp, timestamp14
from archive.errors import NotFoundError, QueryError, SyndicrawlError
from archive.ingest import changes
from archive.lookup import cdx, search, snapshots
from archive.syndication import analytics as archive_analytics
from archive.syndication import chains
from syndicrawl.web import analytics, sidebyside, timeline
from syndicrawl.web.api import ArchiveApp, StartResponse
from syndicrawl.web.templating import environment, static_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from sqlalchemy.orm import Session

    from archive.db.engine import Database
    from archive.db.models import Article

logger = logging.getLogger(__name__)

POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; "
          "base-uri 'none'; frame-ancestors 'none'")
_HEADERS = [
    ("Content-Security-Policy", POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
_STATIC_TYPES = {"css": "text/css; charset=utf-8", "svg": "image/svg+xml", "png": "image/png"}
RESULTS = 20


class Params:
    """A request's query parameters: the last value of each, stripped; empty ones are absent."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self._values = {k: v[-1].strip() for k, v in parse_qs(environ.get("QUERY_STRING", "")).items() if v[-1].strip()}

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def url(self) -> str:
        url = self.get("url")
        if url is None:
            raise QueryError("a url= parameter is required, e.g. /article?url=http://example.com/page")
        cdx.checked_key(url)
        return url


class ViewApp:
    """The WSGI application: the pages below, and ``ArchiveApp`` for every other path."""

    def __init__(self, database: Database, warc_dir: Path) -> None:
        self.database = database
        self.warc_dir = warc_dir
        self.api = ArchiveApp(database, warc_dir)
        self.pages: dict[str, Callable[[Params], str]] = {
            "/": self.home, "/search": self.search, "/article": self.article, "/snapshot": self.snapshot,
            "/diff": self.diff, "/analytics": self.analytics,
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):], start_response)
        page = self.pages.get(path)
        if page is None:
            return self.api(environ, start_response)
        try:
            if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
                return self._error(start_response, "405 Method Not Allowed", "Read-only: only GET and HEAD.")
            body = page(Params(environ))
        except QueryError as exc:
            return self._error(start_response, "400 Bad Request", str(exc))
        except NotFoundError as exc:
            return self._error(start_response, "404 Not Found", str(exc))
        except SyndicrawlError as exc:
            logger.warning("%s: %s", path, exc)
            return self._error(start_response, "500 Internal Server Error", str(exc))
        return _html(start_response, "200 OK", body, head=environ.get("REQUEST_METHOD") == "HEAD")

    def _error(self, start_response: StartResponse, status: str, message: str) -> list[bytes]:
        return _html(start_response, status, _render("error.html", status=status, message=message))

    def _static(self, name: str, start_response: StartResponse) -> list[bytes]:
        body = static_file(name)
        if body is None:
            return self._error(start_response, "404 Not Found", f"no static file {name!r}")
        kind = _STATIC_TYPES.get(name.rpartition(".")[2], "application/octet-stream")
        headers = [*_HEADERS, ("Content-Type", kind), ("Cache-Control", "max-age=3600"),
                   ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]

    def home(self, params: Params) -> str:
        with self.database.session() as s:
            sources = catalog.source_summaries(s)
            recent = catalog.recent_articles(s, 10)
            return _render("home.html", sources=sources, recent=recent)

    def search(self, params: Params) -> str:
        query = params.get("q")
        if query is None:
            raise QueryError("give words to search for: /search?q=aleppo")
        since, until = params.get("since"), params.get("until")
        with self.database.session() as s:
            sources = catalog.source_names(s)
            hits = search.search(
                s.connection(), query, source=params.get("source"), author=params.get("author"),
                since=parse_time(since).date() if since else None,
                until=parse_time(until, end=True).date() if until else None, limit=RESULTS,
            )
            sizes = archive_analytics.cluster_sizes(s, {hit.cluster_id for hit in hits if hit.cluster_id is not None})
        return _render("search.html", query=query, params=params, sources=sources, hits=hits, sizes=sizes)

    def article(self, params: Params) -> str:
        url = params.url()
        with self.database.session() as s:
            found = catalog.latest_article(s, url)
            if found is None:
                raise NotFoundError(f"{url}: no extracted article in the archive")
            captures = catalog.captures_for_url(s, found.url)
            try:
                root: chains.Node | None = chains.chain(s, found.url)
            except NotFoundError:
                root = None
            return _render("article.html", article=found, captures=captures, root=root,
                           timeline=timeline.layout(root) if root is not None and root.children else None,
                           stamp=timestamp14)

    def snapshot(self, params: Params) -> str:
        url = params.url()
        at = params.get("at")
        with self.database.session() as s:
            capture = snapshots.closest_capture(s.connection(), url, parse_timestamp(at) if at else None)
            captures = catalog.captures_for_url(s, url)
            return _render("snapshot.html", capture=capture, captures=captures, stamp=timestamp14)

    def diff(self, params: Params) -> str:
        url = params.url()
        with self.database.session() as s:
            before, after = _compared(s, url, params)
            result = changes.diff_articles(s, self.warc_dir, before, after)
            left, right = sidebyside.sides(before.text, after.text, result)
            return _render("diff.html", before=before, after=after, result=result, left=left, right=right,
                           stamp=timestamp14)

    def analytics(self, params: Params) -> str:
        with self.database.session() as s:
            data = analytics.gather(s)
        return _render("analytics.html", data=data, images=analytics.data_uris(data), standalone=False)


def _compared(s: Session, url: str, params: Params) -> tuple[Article, Article]:
    """The two articles a diff compares, as ``syndicrawl diff`` picks them: ``url``'s latest against
    its parent (``against=origin``, or another page's URL), or its captures nearest ``from`` and ``to``."""
    against, start, end = params.get("against"), params.get("from"), params.get("to")
    if against and (start or end):
        raise QueryError("give against= or from= and to=, not both")
    if end and not start:
        raise QueryError("to=: give from= too, e.g. /diff?url=URL&from=20240101&to=20240201")
    if against and against not in changes.RELATIVES:
        cdx.checked_key(against)
    return changes.compared(s, url, against=against, start=parse_timestamp(start) if start else None,
                            end=parse_timestamp(end) if end else None)  # fmt: skip


def _render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def _html(start_response: StartResponse, status: str, body: str, *, head: bool = False) -> list[bytes]:
    """The page, or for a HEAD request its headers only (with the length the page would have)."""
    data = body.encode()
    start_response(status, [*_HEADERS, ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [b""] if head else [data]
