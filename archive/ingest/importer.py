"""Import WARC files written by other tools (wget, Heritrix, Browsertrix, warcprox, warcio), and ARC files.

A file is copied into the WARC directory as it is (never rewritten: its records keep their
offsets, digests and IDs) and indexed like a file of our own: a CDXJ index, and a capture
row per response and revisit record. Its HTML pages then go the way crawled pages go:
``ExtractorPool`` running ``extract_for_matching``, then ``CaptureStore.store_articles``,
which stores each article, matches it for syndication and writes its extraction summary
into a metadata record (in a WARC file of syndicrawl's own, next to the imported one).

Damage does not stop an import: a record that is not whole, or whose headers make no
capture, is reported (file, offset, what) and skipped, and reading resumes at the next
record (``records.scan_records``). Records already in the archive (by WARC-Record-ID)
are skipped, so importing a file twice adds nothing.
"""

from __future__ import annotations

import filecmp
import logging
import os
import re
import shutil
import tempfile
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from warcio.timeutils import iso_date_to_datetime

from archive.db import catalog
from archive.db.models import Capture
from archive.errors import ConfigError, NotAnArticle, WarcError
from archive.ingest.store import CaptureStore, Extracted, StoredCapture
from archive.warc.arc import ARC_SUFFIXES, arc_to_warc, is_arc_name, warc_name
from archive.warc.cdxj import WARC_SUFFIXES, index_closed_warc
from archive.warc.http import archived_body
from archive.warc.records import Damage, read_record, recompress, scan_records, shares_gzip_members
from archive.warc.storage import WarcStorage, storage
from archive.warc.writer import OPEN_SUFFIX

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent.futures import Future

    from sqlalchemy.orm import Session
    from warcio.recordloader import ArcWarcRecord

    from archive.db.engine import Database
    from archive.ingest.extract import ExtractorPool
    from archive.ingest.extraction import Extraction
    from archive.warc.records import WholeRecord

logger = logging.getLogger(__name__)

#: Records written to the database in one transaction.
BATCH = 256
#: Pages handed to the extractor and not yet stored, at most; reading waits beyond that.
MAX_PENDING = 64
#: Records read, at most, to find a file's default source name.
NAME_SEARCH = 1000
#: Warning lines for the skipped records of one file; a count of the others follows.
PROBLEM_LINES = 20
HTML_TYPES = ("text/html", "application/xhtml")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class ImportReport:
    """What importing one file did. ``known``: records already archived; ``skipped``: damaged or unusable."""

    path: Path
    warc_file: str
    source: str
    size: int
    records: int = 0
    captures: int = 0
    known: int = 0
    articles: int = 0
    not_articles: int = 0
    skipped: int = 0


@dataclass
class _Capture:
    """A response or revisit record on its way to a capture row (and, for an HTML page, to extraction)."""

    row: dict[str, Any]
    revisit: bool
    refers_to: str | None = None
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    html: bytes | None = None


class _Unusable(Exception):
    """A whole record that makes no capture: missing or bad headers."""


def source_name(text: str) -> str:
    """``text`` as a source name (letters, digits, ``_.-``), as used in WARC file names."""
    return _NOT_NAME.sub("-", text).strip("-.")[:64]


def default_source(path: Path) -> str:
    """The source a file's captures belong to: its warcinfo's ``isPartOf``, else the host of its first response."""
    for number, found in enumerate(scan_records(path, keep=lambda record: 65536 * (record.rec_type == "warcinfo"))):
        if number >= NAME_SEARCH:
            break
        if isinstance(found, Damage):
            continue  # the import reports it
        record = found.record
        if record.rec_type == "warcinfo":
            fields = found.payload.decode("utf-8", "replace")
            part_of = next((line.split(":", 1)[1] for line in fields.splitlines()
                            if line.lower().startswith("ispartof:")), "")  # fmt: skip
            if source_name(part_of):
                return source_name(part_of)
        elif record.rec_type == "response" and (target := _split(_target(record))) is not None:
            if target.hostname and target.scheme in {"http", "https"}:
                return source_name(target.hostname)
    raise ConfigError(f"{path}: no warcinfo isPartOf and no HTTP response to name the source after; give --source NAME")


def check_name(path: Path) -> None:
    """Refuse a file whose name is not a WARC or ARC file's, as one line."""
    if not path.name.endswith(WARC_SUFFIXES + ARC_SUFFIXES):
        raise WarcError(f"{path.name}: not a WARC or ARC file name (expected {', '.join(WARC_SUFFIXES + ARC_SUFFIXES)})")


class Importer:
    """Imports WARC files into one archive (WARC directory, index directory, database)."""

    def __init__(
        self,
        db: Database,
        warcs: WarcStorage | Path,
        index_dir: Path,
        *,
        extractor: ExtractorPool | None,
        max_bytes: int,
        software: str,
        warc_max_size: int,
    ) -> None:
        """``warcs``: where files are copied (and from there uploaded, to object storage); ``extractor``
        runs ``extract_for_matching``; None imports captures without extracting pages."""
        self._db = db
        self._warcs = storage(warcs)
        self._warc_dir = self._warcs.local
        self._index_dir = index_dir
        self._extractor = extractor
        self._max_bytes = max_bytes
        self._software = software
        self._warc_max_size = warc_max_size

    def import_file(
        self, path: Path, source: str | None = None, on_progress: Callable[[ImportReport, int], None] | None = None
    ) -> ImportReport:
        """Copy, index and catalog one WARC or ARC file; ``on_progress(report, offset)`` as records are read.

        An ARC file is converted first (``archive.warc.arc``), into a WARC file that is then
        imported as it would be had it come as one (named as the ARC file, ``.warc.gz``).
        """
        check_name(path)
        if not is_arc_name(path.name):
            return self._import(path, source, on_progress)
        self._warc_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._warc_dir, prefix=".arc-") as work:
            converted = Path(work) / warc_name(path.name)
            count, lost = arc_to_warc(path, converted)
            if not count:
                raise WarcError(f"{path}: no ARC record at offset 0 (not an ARC file?)")
            report = self._import(converted, source, on_progress, lost=lost, shown=path)
        report.path = path
        return report

    def _import(
        self, path: Path, source: str | None, on_progress: Callable[[ImportReport, int], None] | None,
        *, lost: Sequence[Damage] = (), shown: Path | None = None,
    ) -> ImportReport:
        """Import a WARC file; ``lost``: damage met making it (at offsets of ``shown``, the file given)."""
        try:
            with read_record(path, 0):
                pass  # it starts with a WARC record
        except WarcError:
            # or holds one further on, after damage; else nothing is copied
            if all(isinstance(found, Damage) for found in scan_records(path)):
                raise
        if source is not None and source_name(source) != source:
            raise ConfigError(f"--source {source!r}: not a plain name (letters, digits, - _ .)")
        target, made, recompressed = self._place(path)
        run: _Run | None = None
        try:
            name = source or default_source(target)
            with self._db.session() as s:
                kind = catalog.source_kind(s, name) or "unknown"
            report = ImportReport(path, target.name, name, target.stat().st_size)
            store = CaptureStore(
                self._db, self._warc_dir, name, kind, max_size=self._warc_max_size, software=self._software,
                index_dir=self._index_dir, remote=self._warcs.remote,
            )
            run = _Run(self._db, store, report, target, extractor=self._extractor, max_bytes=self._max_bytes)
            for damage in [*lost, *recompressed]:
                run.problem(damage.offset, damage.problem, shown or path)
            status = "failed"
            try:
                run.read(on_progress)
                status = "finished"
            except KeyboardInterrupt:
                status = "interrupted"
                raise
            finally:
                run.finish(status)
            try:
                index_closed_warc(target, self._index_dir, spans=run.spans if run.damaged else None)
            except WarcError as exc:  # the captures stand; `index rebuild` can index the file later
                logger.error("not indexed for replay: %s", exc)
            if made and not run.stored and self._warcs.remote:
                target.unlink()  # every record was archived already: nothing to upload
            else:
                self._warcs.upload(target)
        except BaseException:
            # A copy made for this import goes unless captures already point into it.
            if made and (run is None or not run.stored):
                target.unlink(missing_ok=True)
            raise
        return report

    def _place(self, path: Path) -> tuple[Path, bool, list[Damage]]:
        """The file's copy in the WARC directory, made under its own name, or a free one if that is
        taken; whether it was made now; the gzip damage met making it.

        A file already there (the same bytes under the same name, or the file itself) is not copied
        again. A file whose gzip members hold several records (one member for the whole file, as
        ``gzip`` makes it) is stored recompressed, a member per record, so that its records can
        be read at their offsets; its records' bytes are kept.
        """
        self._warc_dir.mkdir(parents=True, exist_ok=True)
        stem, suffix = _split_name(path.name)
        remote = set(self._warcs.names()) if self._warcs.remote else set()  # names taken in object storage
        with ExitStack() as cleanup:
            source, lost = path, []
            if shares_gzip_members(path):
                logger.warning("%s: one gzip member holds several records (the whole file compressed at once): "
                               "stored recompressed, a gzip member per record", path)  # fmt: skip
                source = self._warc_dir / f".{path.name}.recompressed"
                cleanup.callback(source.unlink, missing_ok=True)
                lost = recompress(path, source)
            for number in range(1, 10_000):
                target = self._warc_dir / (path.name if number == 1 else f"{stem}-{number}{suffix}")
                if target.exists() and (target.samefile(source) or filecmp.cmp(target, source, shallow=False)):
                    return target, False, lost
                if not _taken(target) and not any(name in remote for name in _index_names(target)):
                    partial = target.with_name(target.name + OPEN_SUFFIX)
                    try:
                        if source is path:
                            shutil.copyfile(path, partial)
                        else:
                            os.replace(source, partial)
                        os.replace(partial, target)
                    except OSError as exc:
                        partial.unlink(missing_ok=True)
                        raise WarcError(f"cannot copy {path} to {target}: {exc}") from exc
                    return target, True, lost
        raise WarcError(f"{path}: no free name for it in {self._warc_dir}")


class _Run:
    """One file's import: reading, batching, extraction results coming back."""

    def __init__(
        self,
        db: Database,
        store: CaptureStore,
        report: ImportReport,
        path: Path,
        *,
        extractor: ExtractorPool | None,
        max_bytes: int,
    ) -> None:
        self._db = db
        self._extractor = extractor
        self._max_bytes = max_bytes
        self._store = store
        self._report = report
        self._path = path
        self._seen: set[str] = set()  # record IDs met in this file: a duplicate is skipped
        self._pending: deque[tuple[StoredCapture, Future[Extraction]]] = deque()
        self._metadata = {"source": report.source, "kind": "imported", "warc_file": path.name}
        #: The byte ranges holding whole records (all of the file unless damaged), for the index.
        self.spans: list[tuple[int, int]] = []
        self.damaged = False

    def read(self, on_progress: Callable[[ImportReport, int], None] | None) -> None:
        batch: list[_Capture] = []
        start: int | None = 0
        for found in scan_records(self._path, keep=self._keep):
            if isinstance(found, Damage):
                resumed = f"; resumed at offset {found.resumed_at}" if found.resumed_at is not None else ""
                self.problem(found.offset, found.problem + resumed)
                self.damaged = True
                if start is not None and start < found.offset:
                    self.spans.append((start, found.offset))
                start = found.resumed_at
                continue
            self._report.records += 1
            try:
                capture = self._capture(found)
            except _Unusable as exc:
                self.problem(found.offset, str(exc))
                continue
            if capture is not None:
                batch.append(capture)
            if len(batch) >= BATCH:
                self._flush(batch)
                batch = []
            if on_progress is not None:
                on_progress(self._report, found.offset + found.length)
        if start is not None:
            self.spans.append((start, self._report.size))
        self._flush(batch)
        self._collect(wait=True)
        if self._report.skipped > PROBLEM_LINES:
            logger.warning("%s: %d more records skipped", self._path, self._report.skipped - PROBLEM_LINES)

    def finish(self, status: str) -> None:
        """Store what extraction has finished, close our WARC file and record the run as a crawl of the source."""
        if status == "finished":
            self._collect(wait=True)
        report = self._report
        self._store.finish(
            status,
            {"pages": report.captures, "articles": report.articles, "bytes": report.size, "errors": report.skipped},
        )

    def _keep(self, record: ArcWarcRecord) -> int:
        """The payload bytes to keep: an HTML page's, for extraction."""
        return self._max_bytes if self._extractor is not None and _is_html(record) else 0

    @property
    def stored(self) -> bool:
        """Whether captures of this file are in the catalog: it must then stay."""
        return self._report.captures > 0

    def problem(self, offset: int, what: str, path: Path | None = None) -> None:
        """A record skipped: one warning line each, the first PROBLEM_LINES of a file, then a count."""
        self._report.skipped += 1
        if self._report.skipped <= PROBLEM_LINES:
            logger.warning("%s: offset %d: %s", path or self._path, offset, what)

    def _capture(self, found: WholeRecord) -> _Capture | None:
        """The capture a response or revisit record of an http(s) URL makes; None for other records."""
        record = found.record
        url = _target(record)
        if record.rec_type not in {"response", "revisit"}:
            return None  # warcinfo, request, metadata, resource
        parts = _split(url)
        if parts is None:
            raise _Unusable(f"{record.rec_type} record: bad WARC-Target-URI {url!r}")
        if parts.scheme not in {"http", "https"}:
            return None  # dns: and other non-web records
        headers = record.rec_headers
        record_id = headers.get_header("WARC-Record-ID")
        if not record_id:
            raise _Unusable(f"{record.rec_type} record of {url} has no WARC-Record-ID")
        if record_id in self._seen:
            raise _Unusable(f"{record.rec_type} record of {url}: record ID {record_id} already met in this file")
        self._seen.add(record_id)
        try:
            timestamp = iso_date_to_datetime(headers.get_header("WARC-Date") or "").replace(tzinfo=UTC)
        except (ValueError, TypeError):  # TypeError: warcio's parse of a date with no digits
            raise _Unusable(f"{record.rec_type} record of {url}: bad WARC-Date {headers.get_header('WARC-Date')!r}") from None
        http = record.http_headers
        status = http.get_statuscode() if http is not None else None
        if status is not None and not status.isdigit():
            status = None
        if status is None and record.rec_type == "response":
            raise _Unusable(f"response record of {url} holds no HTTP response (no status line)")
        http_headers = list(http.headers) if http is not None else []
        content_type = http.get_header("Content-Type") if http is not None else None
        location = http.get_header("Location") if http is not None else None
        row = {
            "url": url,
            "timestamp": timestamp,
            "status": int(status) if status else None,
            "mime": (content_type or "").split(";")[0].strip(),
            "warc_file": self._path.name,
            "warc_offset": found.offset,
            "warc_length": found.length,
            "record_id": record_id,
            "payload_digest": found.payload_digest,
            "redirect_to": location if status and status.startswith("3") else None,
        }
        if record.rec_type == "revisit":
            return _Capture(row, revisit=True, refers_to=headers.get_header("WARC-Refers-To"))
        return _Capture(row, revisit=False, http_headers=http_headers, html=found.payload if self._keep(record) else None)

    def _flush(self, batch: Sequence[_Capture]) -> None:
        """Store a batch of captures in one transaction, then send its HTML pages to the extractor."""
        if not batch:
            return
        with self._db.writing() as s:
            known = catalog.captures_by_record_id(s, [c.row["record_id"] for c in batch])
            fresh = [c for c in batch if c.row["record_id"] not in known]
            self._report.known += len(batch) - len(fresh)
            base = {"source_id": self._store.source_id, "crawl_id": self._store.crawl_id}
            responses = [c for c in fresh if not c.revisit]
            added = catalog.add_captures(s, [{**base, **c.row} for c in responses])
            revisits = [{**base, **c.row} for c in self._resolved(s, [c for c in fresh if c.revisit])]
            catalog.add_captures(s, revisits)
            self._report.captures += len(added) + len(revisits)
        pages, too_large = [], []
        for capture, row in zip(responses, added, strict=True):
            if capture.html is None:
                continue
            stored = StoredCapture.of(row)
            # Only max_bytes + 1 bytes of a payload are kept: one cut there must not reach the
            # extractor, which would take it whole once its chunk headers are removed.
            if len(capture.html) > self._max_bytes:
                error = f"{stored.url}: page too large to extract (over {self._max_bytes} bytes)"
                too_large.append(Extracted(stored, None, error, self._metadata, {}))
            else:
                pages.append((stored, archived_body(capture.http_headers, capture.html)))
        self._store_results(too_large)
        if pages:
            # Sent as fetched: the workers remove the content coding and decode, in batches.
            assert self._extractor is not None
            futures = self._extractor.submit_many([(body, stored.url) for stored, body in pages])
            self._pending.extend((stored, future) for (stored, _), future in zip(pages, futures, strict=True))
        self._collect(wait=False)

    def _resolved(self, s: Session, revisits: list[_Capture]) -> list[_Capture]:
        """The revisits, each pointed at its original capture (by WARC-Refers-To, else payload digest) as
        our own are; one whose original is not archived is skipped: it has no payload to replay."""
        by_id = catalog.captures_by_record_id(s, [c.refers_to for c in revisits if c.refers_to])
        by_digest = catalog.find_original_captures(s, [c.row["payload_digest"] for c in revisits if c.row["payload_digest"]])
        resolved = []
        for capture in revisits:
            row = capture.row
            original = by_id.get(capture.refers_to or "") or by_digest.get(row["payload_digest"])
            while original is not None and original.revisit_of is not None:  # a revisit of a revisit
                original = s.get(Capture, original.revisit_of)
            if original is None:
                self.problem(row["warc_offset"], f"revisit record of {row['url']}: its original is not in the archive")
                continue
            row["revisit_of"] = original.id
            row["status"] = row["status"] or original.status
            row["mime"] = row["mime"] or original.mime
            row["payload_digest"] = row["payload_digest"] or original.payload_digest
            resolved.append(capture)
        return resolved

    def _collect(self, *, wait: bool) -> None:
        """Store the extractions that are done, in order; wait for all with ``wait``, else only
        while more than MAX_PENDING are in flight."""
        results: list[Extracted] = []
        while self._pending and (wait or len(self._pending) > MAX_PENDING or self._pending[0][1].done()):
            stored, future = self._pending.popleft()
            try:
                results.append(Extracted(stored, future.result(), None, self._metadata, {}))
            except Exception as exc:  # ExtractionError, or a broken pool: the page is recorded as failed
                results.append(Extracted(stored, None, str(exc), self._metadata, {}, isinstance(exc, NotAnArticle)))
        self._store_results(results)

    def _store_results(self, results: list[Extracted]) -> None:
        if not results:
            return
        self._store.store_articles(results)
        for result in results:
            if result.error is None:
                self._report.articles += 1
            else:
                logger.info("no article: %s", result.error)
                self._report.not_articles += 1


def _target(record: ArcWarcRecord) -> str:
    """WARC-Target-URI; some writers wrap it in <> (as the WARC 1.1 spec's grammar once said)."""
    return (record.rec_headers.get_header("WARC-Target-URI") or "").strip().removeprefix("<").removesuffix(">")


def _split(url: str) -> SplitResult | None:
    """``url``'s parts; None for what urlsplit refuses (a bad IPv6 host)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _is_html(record: ArcWarcRecord) -> bool:
    """A 2xx HTML response: what extraction reads (the crawl's test, in ``crawler.middlewares``)."""
    http = record.http_headers
    if record.rec_type != "response" or http is None:
        return False
    content_type = (http.get_header("Content-Type") or "").lower()
    return http.get_statuscode().startswith("2") and content_type.startswith(HTML_TYPES)


def _split_name(name: str) -> tuple[str, str]:
    suffix = next(s for s in WARC_SUFFIXES if name.endswith(s))
    return name[: -len(suffix)], suffix


def _index_names(target: Path) -> list[str]:
    """The names sharing ``target``'s index name."""
    stem, _ = _split_name(target.name)
    return [stem + suffix for suffix in WARC_SUFFIXES]


def _taken(target: Path) -> bool:
    """A name is taken by its file, that file still open, or another file with the same index name."""
    return any((target.parent / n).exists() or (target.parent / (n + OPEN_SUFFIX)).exists() for n in _index_names(target))
