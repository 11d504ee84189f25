"""Package WARC files as a WACZ 1.1.1 file (https://specs.webrecorder.net/wacz/1.1.1/).

Built with ``zipfile`` by the spec rather than with py-wacz: py-wacz's ``create`` is a
command-line function (an argparse namespace in, progress printed), its index would not be
the per-WARC indexes the archive already keeps, and it would bring frictionless and its
dependency tree into the project. Its indexing core,
cdxj-indexer, is used here too: the per-WARC index files of ``archive.warc.cdxj`` are merged
and written as cdxj-indexer's compressed index (``indexes/index.cdx.gz`` in blocks of
300 lines, located by ``indexes/index.idx``), the layout ReplayWeb.page and pywb read.

WARC files go in whole (their records are not cut apart) and stored uncompressed in the
ZIP, so a reader can seek to a record; every entry is hashed as it is written, for
``datapackage.json``.

Range-reading clients (ReplayWeb.page's wabac.js) find an entry's data from the central
directory alone when its extra field there is empty, assuming the local header's is too. So
each entry's size is measured first and a ZIP64 extra field asked for only when it is over
``zipfile.ZIP64_LIMIT``, where zipfile puts one in the central directory too; zipfile is not told
the size, since told one within 5% of the limit (or given ``force_zip64``) it writes the field in
the local header only. The index and the pages go to a temporary file first for that.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from cdxj_indexer.main import CompressedWriter
from sqlalchemy import select
from sqlalchemy.orm import aliased

from archive.db.models import Article, Capture, Source
from archive.errors import NotFoundError, WarcError
from archive.lookup import cdx
from archive.warc import cdxj
from archive.warc.storage import WarcStorage, is_url, open_file, storage
from archive.warc.writer import OPEN_SUFFIX

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

WACZ_VERSION = "1.1.1"
#: ``hasText``: ReplayWeb.page builds its text search from the pages' ``text`` only when the header says so.
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages", "hasText": True}
#: Index and pages beyond this many bytes are spooled to disk, not memory.
_SPOOL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class WaczSummary:
    path: Path
    warc_files: list[str]
    pages: int
    index_lines: int


@dataclass(frozen=True)
class _Entry:
    path: str
    digest: str
    size: int


def select_warcs(
    session: Session, *, source: str | None, start: datetime | None, end: datetime | None
) -> tuple[list[str], list[tuple[Capture, Article]]]:
    """The WARC files holding the chosen captures (and the originals their revisits need), and the pages.

    Pages are the successfully extracted articles among the chosen captures.
    """
    chosen = select(Capture.id).outerjoin(Source, Source.id == Capture.source_id)
    if source is not None:
        chosen = chosen.where(Source.name == source)
    if start is not None:
        chosen = chosen.where(Capture.timestamp >= start)
    if end is not None:
        chosen = chosen.where(Capture.timestamp <= end)
    original = aliased(Capture)
    files = session.execute(
        select(Capture.warc_file, original.warc_file)
        .outerjoin(original, original.id == Capture.revisit_of)
        .where(Capture.id.in_(chosen))
        .distinct()
    ).all()
    names = sorted({name for pair in files for name in pair if name is not None})
    pages = session.execute(
        select(Capture, Article)
        .join(Article, Article.capture_id == Capture.id)
        .where(Capture.id.in_(chosen), Article.status == "ok")
        .order_by(Capture.timestamp, Capture.id)
    ).all()
    return names, [(capture, article) for capture, article in pages]


def write_wacz(
    session: Session,
    warcs: WarcStorage | Path,
    index_dir: Path,
    out: Path,
    *,
    source: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    title: str | None = None,
    software: str = "syndicrawl",
) -> WaczSummary:
    """Write the WACZ of the captures chosen by source and time range to ``out``.

    ``title`` goes in datapackage.json (by default it names the source).
    """
    names, pages = select_warcs(session, source=source, start=start, end=end)
    if not names:
        raise NotFoundError("no captures match the source and time range given: nothing to export")
    store = storage(warcs)
    locations = [store.location(name) for name in names]
    for location in locations:
        if str(location).endswith(OPEN_SUFFIX):
            raise WarcError(f"{location}: still being written by a crawl; export once it has finished")
    indexes = [_index_for(session, name, location, index_dir) for name, location in zip(names, locations, strict=True)]
    entries: list[_Entry] = []
    with zipfile.ZipFile(out, "w", allowZip64=True) as wacz:
        for name, location in zip(names, locations, strict=True):
            with open_file(location) as fh:
                entries.append(_write(wacz, f"archive/{name}", fh, zipfile.ZIP_STORED))
        idx = io.StringIO()
        lines = 0
        with tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as data:
            writer = CompressedWriter(idx, data_out=data, data_out_name="index.cdx.gz")
            for line in cdxj.merged_lines(indexes):
                writer.write(line)
                lines += 1
            if writer.block:
                writer.flush()
            entries.append(_write(wacz, "indexes/index.cdx.gz", data, zipfile.ZIP_STORED))
        entries.append(_write(wacz, "indexes/index.idx", io.BytesIO(idx.getvalue().encode())))
        with tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as jsonl:
            _write_pages(jsonl, pages)
            entries.append(_write(wacz, "pages/pages.jsonl", jsonl))
        package = json.dumps(_datapackage(entries, pages, title or _title(source), software), indent=2).encode()
        _write(wacz, "datapackage.json", io.BytesIO(package))
        digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package).hexdigest()}
        _write(wacz, "datapackage-digest.json", io.BytesIO(json.dumps(digest, indent=2).encode()))
    return WaczSummary(out, names, len(pages), lines)


def _index_for(session: Session, name: str, warc: Path | str, index_dir: Path) -> Path:
    """The WARC file's index, written first if it is missing or older than the file: from the file
    here, from the catalog's rows for a file in object storage (the same lines, and no download)."""
    index = index_dir / cdxj.index_name(name)
    if is_url(warc):
        if index.exists():
            return index
        return cdxj.write_index(name, (row.line for row in cdx.file_rows(session.connection(), name)), index_dir)
    if not index.exists() or index.stat().st_mtime < Path(warc).stat().st_mtime:
        return cdxj.index_closed_warc(Path(warc), index_dir)
    return index


def _title(source: str | None) -> str:
    return f"syndicrawl: {source}" if source is not None else "syndicrawl: all sources"


def _page_ts(capture: Capture) -> str:
    return capture.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_pages(out: IO[bytes], pages: Iterable[tuple[Capture, Article]]) -> None:
    """pages/pages.jsonl: each extracted article with its capture time, title and text (for search)."""
    out.write(json.dumps(PAGES_HEADER).encode() + b"\n")
    for capture, article in pages:
        page = {
            "id": f"{capture.id}",
            "url": capture.url,
            "ts": _page_ts(capture),
            "title": article.title or capture.url,
            "text": article.text,
        }
        out.write(json.dumps(page, ensure_ascii=False).encode() + b"\n")


def _datapackage(
    entries: list[_Entry], pages: list[tuple[Capture, Article]], title: str, software: str
) -> dict[str, object]:
    """datapackage.json; its main page (``mainPageURL``, what py-wacz's ``--url`` sets) is the latest article."""
    package: dict[str, object] = {
        "profile": "data-package",
        "title": title,
        "resources": [
            {"name": e.path.rsplit("/", 1)[-1].lower(), "path": e.path, "hash": e.digest, "bytes": e.size}
            for e in entries
        ],
        "wacz_version": WACZ_VERSION,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": software,
    }
    if pages:
        main, _ = pages[-1]
        package["mainPageURL"] = main.url
        package["mainPageDate"] = _page_ts(main)
    return package


def _write(wacz: zipfile.ZipFile, name: str, source: IO[bytes], compression: int = zipfile.ZIP_DEFLATED) -> _Entry:
    """Copy ``source`` (read from its start to its end) into the entry ``name``, hashing it.

    Its size is measured first: a ZIP64 extra field goes in only for an entry over the limit,
    and then in the local header and the central directory alike (see the module's docstring).
    """
    size = source.seek(0, io.SEEK_END)
    source.seek(0)
    info = zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6])
    info.compress_type = compression
    digest = hashlib.sha256()
    with wacz.open(info, "w", force_zip64=size > zipfile.ZIP64_LIMIT) as target:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
            target.write(chunk)
    return _Entry(name, "sha256:" + digest.hexdigest(), size)
