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
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from cdxj_indexer.main import CompressedWriter
from sqlalchemy import select
from sqlalchemy.orm import aliased

from archive.db.models import Article, Capture, Source
from archive.errors import NotFoundError, WarcError
from archive.lookup.snapshots import warc_path
from archive.warc import cdxj

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from sqlalchemy.orm import Session

WACZ_VERSION = "1.1.1"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}


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
    warc_dir: Path,
    index_dir: Path,
    out: Path,
    *,
    source: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    software: str = "syndicrawl",
) -> WaczSummary:
    """Write the WACZ of the captures chosen by source and time range to ``out``."""
    names, pages = select_warcs(session, source=source, start=start, end=end)
    if not names:
        raise NotFoundError("no captures match the source and time range given: nothing to export")
    warcs = [warc_path(warc_dir, name) for name in names]
    for path in warcs:
        if not path.name.endswith(cdxj.WARC_SUFFIXES):
            raise WarcError(f"{path}: still being written by a crawl; export once it has finished")
    indexes = [_index_for(path, index_dir) for path in warcs]
    entries: list[_Entry] = []
    with zipfile.ZipFile(out, "w", allowZip64=True) as wacz:
        for path in warcs:
            with path.open("rb") as fh:
                entries.append(_write(wacz, f"archive/{path.name}", fh, zipfile.ZIP_STORED))
        idx = io.StringIO()
        lines = 0
        with _HashingWriter(wacz, "indexes/index.cdx.gz", zipfile.ZIP_STORED) as data:
            writer = CompressedWriter(idx, data_out=data, data_out_name="index.cdx.gz")
            for line in cdxj.merged_lines(indexes):
                writer.write(line)
                lines += 1
            if writer.block:
                writer.flush()
        entries.append(data.entry)
        entries.append(_write(wacz, "indexes/index.idx", io.BytesIO(idx.getvalue().encode())))
        entries.append(_write(wacz, "pages/pages.jsonl", io.BytesIO(_pages_jsonl(pages))))
        package = json.dumps(_datapackage(entries, software), indent=2).encode()
        wacz.writestr(_info("datapackage.json"), package)
        digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package).hexdigest()}
        wacz.writestr(_info("datapackage-digest.json"), json.dumps(digest, indent=2))
    return WaczSummary(out, names, len(pages), lines)


def _index_for(warc: Path, index_dir: Path) -> Path:
    """The WARC file's index, written first if it is missing or older than the file."""
    index = index_dir / cdxj.index_name(warc.name)
    if not index.exists() or index.stat().st_mtime < warc.stat().st_mtime:
        return cdxj.index_closed_warc(warc, index_dir)
    return index


def _pages_jsonl(pages: Iterable[tuple[Capture, Article]]) -> bytes:
    """pages/pages.jsonl: each extracted article with its capture time, title and text (for search)."""
    lines = [json.dumps(PAGES_HEADER)]
    for capture, article in pages:
        page = {
            "id": f"{capture.id}",
            "url": capture.url,
            "ts": capture.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "title": article.title or capture.url,
            "text": article.text,
        }
        lines.append(json.dumps(page, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def _datapackage(entries: list[_Entry], software: str) -> dict[str, object]:
    return {
        "profile": "data-package",
        "resources": [
            {"name": e.path.rsplit("/", 1)[-1].lower(), "path": e.path, "hash": e.digest, "bytes": e.size}
            for e in entries
        ],
        "wacz_version": WACZ_VERSION,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": software,
    }


def _info(name: str, compression: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6])
    info.compress_type = compression
    return info


class _HashingWriter:
    """A ZIP entry open for writing that hashes (SHA-256) and counts what passes through."""

    def __init__(self, wacz: zipfile.ZipFile, name: str, compression: int) -> None:
        self._name = name
        self._fh = wacz.open(_info(name, compression), "w", force_zip64=True)
        self._hash = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self._size += len(data)
        return self._fh.write(data)

    @property
    def entry(self) -> _Entry:
        return _Entry(self._name, "sha256:" + self._hash.hexdigest(), self._size)

    def __enter__(self) -> _HashingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


def _write(wacz: zipfile.ZipFile, name: str, source: IO[bytes], compression: int = zipfile.ZIP_DEFLATED) -> _Entry:
    with _HashingWriter(wacz, name, compression) as target:
        shutil.copyfileobj(source, target)  # type: ignore[misc]
    return target.entry
