"""Article extraction: trafilatura on one stored page, and a process pool to run it safely.

trafilatura is CPU-bound and some pages make it hang or grow without bound, so the crawler
runs it through ``ExtractorPool``: worker processes with a per-page timeout, where a page
that hangs or kills its worker becomes an ``ExtractionError`` and the crawl carries on.
trafilatura only ever receives HTML given to it here; it never fetches anything.
"""

from __future__ import annotations

import concurrent.futures
import gc
import hashlib
import json
import logging
import os
import signal
import threading
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from multiprocessing.context import ForkContext
from typing import TYPE_CHECKING, NamedTuple, cast
from urllib.parse import urljoin

import pebble
import trafilatura
from htmldate import find_date
from htmldate.extractors import COMPLETE_URL

from archive.errors import ExtractionError, NotAnArticle
from archive.ingest.messages import widen_pipe
from archive.ingest.verdict import not_an_article
from archive.warc.http import HttpBody

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from multiprocessing.connection import Connection
    from types import TracebackType

    from lxml.html import HtmlElement
    from trafilatura.settings import Document

logger = logging.getLogger(__name__)

#: What can be extracted: a page's text, its bytes, or its body as fetched.
Html = str | bytes | HttpBody


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """The main text and metadata of one page, as trafilatura found them.

    ``published`` is the original publication date (ISO ``YYYY-MM-DD``, or a datetime with
    its offset where the page states the time), not the date the page was last modified: syndication chains are ordered by it. ``text_hash`` ignores whitespace
    layout, so re-extracting the same page after a trafilatura upgrade keeps the same hash
    unless the words changed.
    """

    title: str | None
    author: str | None
    published: str | None
    text: str
    text_hash: str
    canonical_url: str | None
    language: str | None
    sitename: str | None
    description: str | None
    #: Why the fast extraction was found implausible and the page extracted again in full
    #: mode (see ``implausible``); None when it was not.
    retried: str | None = None
    #: When the page says it was last modified (``article:modified_time``, JSON-LD
    #: ``dateModified``), as stated: a revision it declares (``archive.ingest.changes``).
    modified: str | None = None

    def summary(self) -> dict[str, object]:
        """A small JSON-able dict for the WARC metadata record next to the capture."""
        return {
            "title": self.title,
            "author": self.author,
            "published": self.published,
            "language": self.language,
            "chars": len(self.text),
            "text_hash": self.text_hash,
            "retried": self.retried,
        }


def text_hash(text: str) -> str:
    """SHA-256 hex of ``text`` with whitespace runs collapsed to one space and ends stripped."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def extract_article(
    html: Html,
    url: str,
    *,
    fast: bool = True,
    max_bytes: int = 5_000_000,
    min_chars: int = 100,
) -> ExtractedArticle:
    """Extract the main text and metadata of ``html`` fetched from ``url``.

    ``fast`` skips trafilatura's fallback extractors (readability, jusText); metadata and date
    extraction cost the same either way. A page yielding fewer than ``min_chars`` characters
    of text is rejected: on pages without an article trafilatura's rescue pass returns scraps
    such as menu labels or a cookie notice, which must not be archived as articles.

    ``html`` may be a fetched ``HttpBody``, decoded here as the crawler would decode it.

    Raises ``ExtractionError`` when the input is over ``max_bytes``, cannot be decoded, is not
    HTML, has no main text, or trafilatura fails; ``NotAnArticle`` when the text is a listing's
    (``archive.ingest.verdict``).
    """
    size = _oversize(html, max_bytes)
    if size is not None:
        raise ExtractionError(f"{url}: page too large to extract ({size} bytes, limit {max_bytes})")
    if isinstance(html, HttpBody):
        try:
            html = html.text(max_bytes=max_bytes)
        except ExtractionError as exc:
            raise ExtractionError(f"{url}: {exc}") from exc
    # Dates from markup only: htmldate's extensive search reads years out of the body text of
    # undated themes, and a false early date makes a copy the origin. The time of day too,
    # where the markup gives one (``_day_or_minute``).
    date_params = {
        "original_date": True, "extensive_search": False, "max_date": date.today().isoformat(), "outputformat": _MINUTE,
    }
    try:
        # Parsed once here, read for <html lang> and <link rel=canonical>, and handed to
        # trafilatura, which works on its own copy (copying costs a quarter of a parse).
        tree = trafilatura.load_html(html)
        found = None if tree is None else trafilatura.bare_extraction(
            tree, url=url, fast=fast, with_metadata=True, date_extraction_params=date_params
        )
    except Exception as exc:  # trafilatura, lxml and htmldate raise many types on odd pages
        raise ExtractionError(f"{url}: trafilatura failed: {exc!r}") from exc
    if tree is None:
        raise ExtractionError(f"{url}: not parseable as HTML")
    document = cast("Document | None", found)  # a dict only with the deprecated as_dict=True
    if document is None or not document.text:
        raise ExtractionError(f"{url}: no main text found{_too_deep(tree)}")
    text = document.text.strip()
    retried = implausible(text, tree) if fast else None
    if retried is not None:
        full = _full_text(tree, url)
        if len(full) >= min_chars:  # else the fast extraction is all there is
            text = full
    if len(text) < min_chars:
        raise ExtractionError(
            f"{url}: no main text found (only {len(text)} characters, minimum {min_chars})"
        )
    reason = not_an_article(text, tree, url)
    if reason is not None:
        raise NotAnArticle(f"{url}: not an article: {reason}")
    canonical = document.url if document.url and document.url != url else _canonical_link(tree, url)
    language = document.language or _html_lang(tree)
    published = document.date
    if published and _dated_urls(tree, url, document.url, canonical):
        try:
            published = _markup_date(tree, date_params)
        except Exception as exc:
            raise ExtractionError(f"{url}: htmldate failed: {exc!r}") from exc
    published = _day_or_minute(published)
    return ExtractedArticle(
        title=document.title,
        author=document.author,
        published=published,
        text=text,
        text_hash=text_hash(text),
        canonical_url=canonical,
        language=language,
        sitename=document.sitename,
        description=document.description,
        retried=retried,
        modified=_stated_modified(tree),
    )


#: A text this long on one line is a page run together (title, byline, body and credit).
ONE_BLOCK_CHARS = 2000
#: Share of a text's characters in lines that are the page's link texts, above which it is
#: the site's navigation (menus, archive and label lists, related posts), not an article.
LINKED_SHARE = 0.5
#: A text longer than FACTOR times the body the page declares, plus SLACK characters, took more
#: than that body (a post's header and footer lines fit in the slack).
DECLARED_BODY_FACTOR = 2
DECLARED_BODY_SLACK = 500


def implausible(text: str, tree: HtmlElement) -> str | None:
    """Why ``text``, extracted from ``tree`` in fast mode, cannot be the page's article, or None.

    Fast mode skips trafilatura's comparison with other extractors, and on templates whose
    classes it does not know it takes the page's main container whole. Judged on the page
    alone: a crawl's pages come one at a time, in any order, from many sites.

    - one long line: a page whose text came out as one line, title, byline, body and credit
      run together;
    - mostly link text: a Blogger template with its own class names gave its header, archive,
      popular-posts and label widgets with a short post (2,336 characters for 445); a news
      site (rnz.de) its menus, 3,995 characters for a 603-character agency report;
    - far longer than the one body the page declares (``itemprop="articleBody"``, or
      ``articleBody`` in JSON-LD): the extraction took what surrounds it. Pages declaring
      several (excerpts in related-post cards) say nothing about their article.
    """
    if len(text) >= ONE_BLOCK_CHARS and "\n" not in text:
        return f"one line of {len(text)} characters"
    lines = [" ".join(line.split()) for line in text.splitlines()]
    links = {" ".join(a.text_content().split()) for a in tree.iter("a")}
    linked = sum(len(line) for line in lines if line and line in links)
    if linked > LINKED_SHARE * sum(map(len, lines)):
        return f"{linked} of its {len(text)} characters are link text"
    declared = _declared_body(tree)
    if declared and len(text) > DECLARED_BODY_FACTOR * declared + DECLARED_BODY_SLACK:
        return f"{len(text)} characters where the page declares a body of {declared}"
    return None


def _declared_body(tree: HtmlElement) -> int | None:
    """The length of the one article body the page declares, in microdata or JSON-LD."""
    bodies = tree.xpath('//*[contains(concat(" ", normalize-space(@itemprop), " "), " articleBody ")]')
    if len(bodies) == 1:
        return len(" ".join(bodies[0].text_content().split()))
    declared = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        if "articleBody" in (script.text or ""):
            try:
                declared += _json_values(json.loads(script.text), "articleBody")
            except (ValueError, RecursionError):  # not JSON, or arrays nested thousands deep
                continue
    return len(" ".join(declared[0].split())) if len(declared) == 1 else None


_MODIFIED_METAS = './/meta[@property="article:modified_time" or @itemprop="dateModified"]/@content'


def _stated_modified(tree: HtmlElement) -> str | None:
    """The modification time the page's markup states: its meta elements, else JSON-LD."""
    for value in tree.xpath(_MODIFIED_METAS):
        if str(value).strip():
            return str(value).strip()
    for script in tree.xpath('.//script[@type="application/ld+json"]'):
        try:
            found = _json_values(json.loads(script.text or ""), "dateModified")
        except (ValueError, RecursionError):
            continue
        if found:
            return found[0].strip()
    return None


def _json_values(document: object, key: str) -> list[str]:
    """Every string value of ``key`` anywhere in a JSON document, walked with a stack: a
    document nested as deep as ``json.loads`` goes would exceed the recursion limit."""
    found: list[str] = []
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get(key), str):
                found.append(node[key])
            stack.extend(reversed(node.values()))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return found


def _full_text(tree: HtmlElement, url: str) -> str:
    """The page's text in full mode (trafilatura compared with readability and jusText), empty
    if that fails; metadata does not change with the mode."""
    try:
        document = cast("Document | None", trafilatura.bare_extraction(tree, url=url, fast=False))
    except Exception:  # as in extract_article: the fast extraction stands
        return ""
    return (document.text or "").strip() if document is not None else ""


#: The elements whose URLs htmldate reads dates out of, besides the page's URL.
_URL_METAS = './/meta[@name="og:url"]|.//meta[@property="og:image"]'


def _dated_urls(tree: HtmlElement, *page_urls: str | None) -> bool:
    """Whether htmldate may have read the page's date out of a URL rather than its markup.

    htmldate trusts a date-like run in the URL it is given (trafilatura gives it the
    canonical URL, else the page's) before any markup, and falls back on ``og:url`` and
    ``og:image`` URLs: ``/2019/03/15-jahre-...`` became 2019-03-15, and a blog copy took
    the date of its cross-site canonical. Dates from URLs are decided in ``archive.ingest.store``,
    on whole path segments of the page's own URL.
    """
    urls = [*page_urls, *(meta.get("content") for meta in tree.xpath(_URL_METAS))]
    return any(COMPLETE_URL.search(candidate) for candidate in urls if candidate)


def _markup_date(tree: HtmlElement, params: dict[str, object]) -> str | None:
    """The date the page's markup states (meta, JSON-LD, time and date elements), with no URL
    to read: the page's is withheld and the URL-bearing meta elements are dropped from
    ``tree``, which the caller no longer needs."""
    for meta in tree.xpath(_URL_METAS):
        meta.drop_tree()
    return find_date(tree, url="", **params)  # type: ignore[arg-type]


#: How deep libxml2 nests elements: below that it stops adding them. Its "huge" option lifts
#: the limit to 2,048 but makes trafilatura quadratic (11 s for a page nested 2,000 deep).
PARSER_DEPTH = 255


def _too_deep(tree: HtmlElement) -> str:
    """The reason a page without main text may have had some: elements nested as deep as the
    parser goes (unclosed tags by the hundred), whatever was below them lost; else nothing."""
    if tree.xpath("/*" * (PARSER_DEPTH + 1)):
        return f" (elements nested {PARSER_DEPTH} deep, where the HTML parser stops)"
    return ""


#: htmldate keeps a time and its zone where the markup states them (``article:published_time``,
#: JSON-LD ``datePublished``); otherwise the day comes out at a naive midnight.
_MINUTE = "%Y-%m-%dT%H:%M:%S%z"


def _day_or_minute(found: str | None) -> str | None:
    """htmldate's date as stored: ISO with its offset when the page states a time in a zone,
    else the day alone (a time without a zone is some site's local time, ordering nothing).

    Copies made the day their origin appeared are told apart only by such times.
    """
    if not found:
        return None
    try:
        moment = datetime.fromisoformat(found)
    except ValueError:
        return found[:10]
    return moment.isoformat() if moment.tzinfo else moment.date().isoformat()


def _oversize(html: Html, limit: int) -> int | None:
    """The size of ``html`` in bytes (UTF-8 for text, as fetched for a body) if it is over
    ``limit``, else None.

    Text is encoded only to decide: n characters are n bytes if ASCII and at most 4n bytes
    otherwise (encoding a 125 KB page costs 0.2 ms).
    """
    if isinstance(html, HttpBody):
        html = html.body
    if isinstance(html, bytes) or html.isascii():
        size = len(html)
    elif 4 * len(html) <= limit:
        return None
    else:
        size = len(html.encode("utf-8", "surrogatepass"))
    return size if size > limit else None


def _canonical_link(tree: HtmlElement, url: str) -> str | None:
    """The absolute href of the first ``<link rel="canonical">``, if any."""
    for link in tree.iter("link"):
        href = (link.get("href") or "").strip()
        if href and "canonical" in (link.get("rel") or "").lower().split():
            try:
                return urljoin(url, href)
            except ValueError:  # an IPv6 host not closed, in href or url: 'http://[::1'
                continue
    return None


def _html_lang(tree: HtmlElement) -> str | None:
    """The primary language subtag of ``<html lang>``, lowercased ("de-AT" gives "de").

    trafilatura reports ISO 639-1 codes, so region and script subtags are dropped to match.
    """
    value = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang") or ""
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


#: A log record as a worker sends it back: logger name, level, message.
LogLine = tuple[str, int, str]


class _KeptRecords(logging.Handler):
    """A worker's only log handler: keeps each record to send back with its task's results.

    The handlers a worker inherits are the parent's, and may write to pipes closed after the
    fork: the crawl's archive writer sends its log to the crawl process on such a pipe, and
    the first warning trafilatura logged raised ``EBADF`` in the worker, failing the page.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[LogLine] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.levelno, record.getMessage()))


_kept = _KeptRecords()


def _start_worker() -> None:
    """pebble's initializer: leave the crawl's process group, log only to ``_kept``, then freeze
    what the worker inherited (the collector then scans only what a page allocates, see
    crawler/runner.py).

    pebble's workers exit on SIGTERM, which is how pebble stops a timed-out one; but a SIGTERM
    to the crawl's process group (``timeout``, a terminal, ``kill -- -PGID``) then broke the
    pool while the writer was finishing ("Unexpected error within the Pool", WARCs left
    ``.open``). In a group of their own the workers get only pebble's signals; they still
    exit when the writer dies, at the end of their task pipe.
    """
    os.setpgid(0, 0)
    manager = logging.Logger.manager
    for logger_ in [manager.root, *manager.loggerDict.values()]:
        if isinstance(logger_, logging.Logger):
            logger_.handlers.clear()
    manager.root.addHandler(_kept)
    gc.freeze()


def _call_in_worker(
    function: Callable[[Html, str], ExtractedArticle], pages: Sequence[tuple[Html, str]]
) -> tuple[list[ExtractedArticle | ExtractionError], list[LogLine]]:
    """Run ``function`` on each page in a worker process; a page's failure is its ``ExtractionError``.

    Failures are returned, not raised, so one page cannot fail the others of its task; and
    in the parent a ``TimeoutError`` can only be pebble's timeout. What the pages made the
    libraries log comes back too, for the parent to log as its own.
    """
    results: list[ExtractedArticle | ExtractionError] = []
    for html, url in pages:
        try:
            results.append(function(html, url))
        except ExtractionError as exc:
            results.append(exc)
        except Exception as exc:
            results.append(ExtractionError(f"{url}: extractor failed: {exc!r}"))
    lines = list(_kept.lines)
    _kept.lines.clear()
    return results, lines


def _describe_exit(exitcode: int | None) -> str:
    """Describe a worker's exit status: "signal SIGKILL", "exit code 3"."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


class _Page(NamedTuple):
    """A page sent to a worker: its URL and the caller's future for it."""

    future: concurrent.futures.Future[ExtractedArticle]
    url: str


def _cancel_task(task: concurrent.futures.Future[object], pages: Sequence[_Page], _: object) -> None:
    """Cancelling the callers' futures of all a task's pages stops it, killing its worker if
    it is running; the task goes on while any of its pages is still wanted."""
    if all(page.future.cancelled() for page in pages):
        task.cancel()


class _ForkWithWidePipes(ForkContext):
    """Fork, as the pool's workers must (they inherit trafilatura loaded and frozen), with
    pebble's task and result pipes widened: a task of a few 125 KB pages then waits whole in
    the pipe for the next free worker, instead of a worker waking the pool's thread to write
    each 64 KiB of it."""

    def Pipe(self, duplex: bool = True) -> tuple[Connection, Connection]:  # noqa: N802 (multiprocessing's name)
        reader, writer = super().Pipe(duplex)
        widen_pipe(writer.fileno())
        return reader, writer


class ExtractorPool:
    """Extraction in worker processes with a per-page timeout (pebble.ProcessPool), so a page
    that hangs or crashes the extractor is recorded as failed and the crawl goes on.

    ``function`` must be a module-level callable taking ``(html, url)``: it is sent to the
    workers by reference. ``fast``, ``max_bytes`` and ``min_chars`` configure the default
    ``extract_article``; ``max_bytes`` is also checked before a page is sent, so an
    oversized page is never copied to a worker. Workers are
    replaced after ``max_pages // pages_per_task`` tasks (pebble counts tasks, not pages):
    ``max_pages`` pages when tasks are full, fewer when pages come a few at a time (a
    crawl's tasks held 2.7 pages on average). This bounds what lxml and trafilatura might
    accumulate; a worker's RSS measured flat (143-148 MB) over 2000 corpus pages, and each
    replacement leaves a core idle while pebble forks the next worker.

    ``submit_many`` sends up to ``pages_per_task`` pages to a worker as one task: each task
    costs the pool a round trip through its threads and pipes (a quarter of the archive
    writer's time a page when each page was a task). A task has one page's ``timeout``,
    which ordinary pages are far within; if it times out or its worker dies, its pages are
    tried again one to a task, so only the page that hangs or crashes fails.
    """

    MAX_RENEWALS = 10  # broken pools replaced before failing the pages: a machine that cannot fork gives up

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 30.0,
        *,
        fast: bool = True,
        max_bytes: int = 5_000_000,
        min_chars: int = 100,
        max_pages: int = 2000,
        pages_per_task: int = 4,
        function: Callable[[Html, str], ExtractedArticle] = extract_article,
    ) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._pages_per_task = pages_per_task
        if function is extract_article:
            function = partial(extract_article, fast=fast, max_bytes=max_bytes, min_chars=min_chars)
        self._function = function
        self._new_pool = partial(
            pebble.ProcessPool,
            max_workers=workers,
            max_tasks=max(1, max_pages // pages_per_task),
            initializer=_start_worker,
            context=_ForkWithWidePipes(),
        )
        self._pool = self._new_pool()
        self._renewals = 0
        self._closing = False
        self._lock = threading.Lock()  # the caller's thread and pebble's result thread both schedule
        # Futures not yet settled, so that close(cancel=True) can cancel them: stopping the
        # pebble pool alone would fail them with BrokenProcessPool instead.
        self._pending: set[concurrent.futures.Future[ExtractedArticle]] = set()

    def submit(self, html: Html, url: str) -> concurrent.futures.Future[ExtractedArticle]:
        """Queue one page; the future gives its article or raises ``ExtractionError``.

        The future is a plain ``concurrent.futures.Future`` (usable with
        ``asyncio.wrap_future``); cancelling it stops the task.
        """
        [future] = self.submit_many([(html, url)])
        return future

    def submit_many(self, pages: Sequence[tuple[Html, str]]) -> list[concurrent.futures.Future[ExtractedArticle]]:
        """Queue pages, ``pages_per_task`` to a task; a future for each, as ``submit`` gives."""
        queued: list[_Page] = []
        htmls: list[Html] = []
        futures: list[concurrent.futures.Future[ExtractedArticle]] = []
        for html, url in pages:
            future: concurrent.futures.Future[ExtractedArticle] = concurrent.futures.Future()
            futures.append(future)
            size = _oversize(html, self._max_bytes)
            if size is not None:
                future.set_exception(
                    ExtractionError(f"{url}: page too large to extract ({size} bytes, limit {self._max_bytes})")
                )
                continue
            self._pending.add(future)
            future.add_done_callback(self._pending.discard)
            queued.append(_Page(future, url))
            htmls.append(html)
        # As many tasks as the pages need, filled evenly: the workers' queues end together.
        tasks = -(-len(queued) // self._pages_per_task)
        for n in range(tasks):
            self._schedule(queued[n::tasks], htmls[n::tasks])
        return futures

    def _schedule(self, pages: list[_Page], htmls: list[Html]) -> None:
        args = (self._function, [(html, page.url) for page, html in zip(pages, htmls)])
        with self._lock:
            try:
                task = self._pool.schedule(_call_in_worker, args=args, timeout=self._timeout)
            except RuntimeError:
                if self._closing or self._renewals >= self.MAX_RENEWALS:
                    raise
                self._renew()
                task = self._pool.schedule(_call_in_worker, args=args, timeout=self._timeout)
        for page in pages:
            page.future.add_done_callback(partial(_cancel_task, task, pages))
        task.add_done_callback(partial(self._settle, pages, htmls))

    def _settle(
        self,
        pages: list[_Page],
        htmls: list[Html],
        task: concurrent.futures.Future[tuple[list[ExtractedArticle | ExtractionError], list[LogLine]]],
    ) -> None:
        """Give each page's outcome to its future, naming timeouts and crashes; retry the pages
        of a task of several that timed out or whose worker died, one to a task.

        Runs in pebble's result thread. Pool-level errors (a broken pool) pass unchanged:
        they are not about these pages.
        """
        try:
            self._give_outcomes(pages, htmls, task)
        finally:
            # The futures and the task refer to one another: without this, the pages' HTML
            # would stay in memory until the garbage collector looks at that cycle.
            htmls.clear()

    def _give_outcomes(
        self,
        pages: list[_Page],
        htmls: list[Html],
        task: concurrent.futures.Future[tuple[list[ExtractedArticle | ExtractionError], list[LogLine]]],
    ) -> None:
        if task.cancelled():
            for page in pages:
                page.future.cancel()
            return
        exc = task.exception()
        if exc is None:
            results, lines = task.result()
            for name, level, message in lines:
                logging.getLogger(name).log(level, "%s", message)
            for page, result in zip(pages, results, strict=True):
                if page.future.set_running_or_notify_cancel():
                    if isinstance(result, ExtractionError):
                        page.future.set_exception(result)
                    else:
                        page.future.set_result(result)
            return
        retry = (isinstance(exc, TimeoutError | pebble.ProcessExpired) and len(pages) > 1) or isinstance(
            exc, BrokenProcessPool
        )
        if retry:
            logger.info("a task of %d pages failed (%s); extracting them one at a time", len(pages), exc)
        for page, html in zip(pages, htmls, strict=True):
            if page.future.cancelled() or (retry and self._retry(page, html)):
                continue
            if not page.future.set_running_or_notify_cancel():
                continue
            if isinstance(exc, TimeoutError):
                error = ExtractionError(f"{page.url}: extraction timed out after {self._timeout:g} s")
            elif isinstance(exc, pebble.ProcessExpired):
                error = ExtractionError(f"{page.url}: extractor process died ({_describe_exit(exc.exitcode)})")
            else:
                page.future.set_exception(exc)
                continue
            error.__cause__ = exc
            logger.warning("%s", error)
            page.future.set_exception(error)

    def _renew(self) -> None:
        """Replace a broken pebble pool. pebble gives up on its whole pool when a worker dies
        idle (the OOM killer, or systemd's SIGTERM to every process of a unit), failing every
        queued task with ``BrokenProcessPool``; those pages are sent again to the new pool."""
        self._renewals += 1
        logger.warning("the extraction pool broke; starting a new one (%d of at most %d)",
                       self._renewals, self.MAX_RENEWALS)  # fmt: skip
        broken, self._pool = self._pool, self._new_pool()
        broken.stop()

    def _retry(self, page: _Page, html: Html) -> bool:
        """Schedule a page again, alone; False once the pool is closing and takes no more tasks."""
        try:
            self._schedule([page], [html])
        except RuntimeError:
            return False
        return True

    def close(self, *, cancel: bool = False) -> None:
        """Stop accepting pages and wait for the workers to exit.

        Queued pages are extracted first unless ``cancel``, which drops them (their futures
        are cancelled) and kills running tasks.
        """
        with self._lock:
            self._closing = True
        if cancel:
            for future in self._pending.copy():
                future.cancel()
            self._pool.stop()
        else:
            self._pool.close()
        self._pool.join()

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the pool; when leaving on an exception, don't wait for queued pages."""
        self.close(cancel=exc_type is not None)
