"""CDXJ index files: one sorted index per finished WARC file, as pywb and WACZ read them.

Lines are written by webrecorder's cdxj-indexer (``SURT 14-digit-time {"url", "mime",
"status", "digest", "length", "offset", "filename"}``), the indexer behind py-wacz, so they
are byte for byte what other web-archive tools produce. Response, revisit and resource
records are indexed (a revisit with mime ``warc/revisit``, as pywb does); request and
metadata records are not, so the index lists what the CDX API (the ``captures`` table)
lists. Our metadata records are ``application/warc-fields``, which pywb's own indexer
leaves out too (``archive.warc.writer.warc_fields``).

``DATA_DIR/indexes/NAME.cdxj`` belongs to ``DATA_DIR/warcs/NAME.warc.gz``; ``rebuild``
derives every index from the WARC files again, so the index directory is disposable.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from archive.errors import WarcError
from archive.warc.records import verify_file

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from pathlib import Path

logger = logging.getLogger(__name__)

INDEXED_RECORDS = "response,revisit,resource"
WARC_SUFFIXES = (".warc.gz", ".warc")


def index_name(warc_name: str) -> str:
    """``NAME.warc.gz`` -> ``NAME.cdxj``: the index file that belongs to a WARC file."""
    for suffix in WARC_SUFFIXES:
        if warc_name.endswith(suffix):
            return warc_name[: -len(suffix)] + ".cdxj"
    raise WarcError(f"{warc_name}: not a WARC file name (expected {' or '.join(WARC_SUFFIXES)})")


def index_closed_warc(warc_path: Path, index_dir: Path, *, spans: Sequence[tuple[int, int]] | None = None) -> Path:
    """Write the sorted CDXJ index of a finished WARC file, read front to back; return its path.

    For files from elsewhere (import) and for ``rebuild``; the crawl writes its own files'
    indexes from the rows it just stored (``write_index``), without reading them again.
    ``spans``: for a damaged file, the byte ranges ``(start, end)`` that hold whole records
    (``records.scan_records`` finds them); only those are read, since cdxj-indexer stops at
    the first damage.
    """
    from cdxj_indexer import CDXJIndexer  # 0.1 s of imports (pyamf, pkg_resources) the crawl never needs

    with _replacing(index_dir / index_name(warc_path.name)) as partial:
        try:
            with ExitStack() as stack:
                if spans is None:
                    inputs: list[Any] = [str(warc_path)]
                else:
                    inputs = [_Span(stack.enter_context(warc_path.open("rb")), start, end) for start, end in spans]
                CDXJIndexer(
                    str(partial), inputs, sort=True, records=INDEXED_RECORDS, filename=warc_path.name
                ).process_all()
        except OSError as exc:
            raise WarcError(f"cannot index {warc_path}: {exc}") from exc
        # warcio raises assorted errors on a damaged file; any of them means no index for it.
        except Exception as exc:  # noqa: BLE001
            raise WarcError(f"{warc_path}: unreadable WARC, not indexed: {exc!r}") from exc
    logger.info("indexed %s in %s", warc_path.name, index_dir)
    return index_dir / index_name(warc_path.name)


def write_index(warc_name: str, lines: Iterable[str], index_dir: Path) -> Path:
    """Write the index of WARC file ``warc_name`` from its lines (``archive.lookup.cdx`` rows), sorted
    as cdxj-indexer sorts them; return its path."""
    target = index_dir / index_name(warc_name)
    with _replacing(target) as partial:
        try:
            partial.write_text("".join(f"{line}\n" for line in sorted(lines)), encoding="utf-8")
        except OSError as exc:
            raise WarcError(f"cannot write {target}: {exc}") from exc
    return target


@contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A ``.partial`` file to write, renamed to ``target`` if the block succeeds, removed if not:
    a reader never sees half an index."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


class _Span:
    """Bytes ``start`` to ``end`` of a file, read as a stream whose ``tell()`` is the file's offset
    (warcio's iterator takes its record offsets from it)."""

    def __init__(self, fh: BinaryIO, start: int, end: int) -> None:
        fh.seek(start)
        self._fh = fh
        self._end = end

    def read(self, size: int = -1) -> bytes:
        left = max(0, self._end - self._fh.tell())
        return self._fh.read(left if size < 0 else min(size, left))

    def tell(self) -> int:
        return self._fh.tell()


@dataclass
class RebuildReport:
    """What ``rebuild`` did: indexes written, stale ones removed, WARC files that failed."""

    indexed: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def rebuild(warc_dir: Path, index_dir: Path) -> RebuildReport:
    """Re-derive every index from the finished WARC files in ``warc_dir``.

    Each file is first read to its end (``records.verify_file``): warcio stops quietly at a
    truncated last record, which would leave an index that looks whole. A damaged file is
    reported (in the returned report, with its offset) and skipped; the others are indexed. Indexes whose WARC file
    is gone are removed if they are ours: those of another tool (pywb's ``index.cdxj``) are left alone.
    """
    report = RebuildReport()
    warcs = sorted(p for p in warc_dir.glob("*") if p.name.endswith(WARC_SUFFIXES)) if warc_dir.is_dir() else []
    for warc in warcs:
        try:
            verify_file(warc)
            report.indexed.append(index_closed_warc(warc, index_dir))
        except WarcError as exc:
            report.failed.append(str(exc))
    wanted = {index_name(p.name) for p in warcs}
    for stale in sorted(index_dir.glob("*.cdxj")) if index_dir.is_dir() else []:
        if stale.name not in wanted and _indexes_its_namesake(stale):
            stale.unlink()
            report.removed.append(stale)
    return report


def _indexes_its_namesake(index: Path) -> bool:
    """Whether ``index`` is the index of one WARC file named after it (``NAME.cdxj`` of
    ``NAME.warc.gz``), as each index written here is; its first line tells."""
    with index.open(encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    try:
        filename = json.loads(first.split(" ", 2)[2])["filename"]
        return isinstance(filename, str) and index_name(filename) == index.name
    except (IndexError, ValueError, KeyError, TypeError, WarcError):
        return False


def merged_lines(index_paths: Iterable[Path]) -> Iterator[str]:
    """Yield the lines of several sorted index files as one sorted stream, reading each once."""
    with ExitStack() as stack:
        files = [stack.enter_context(path.open(encoding="utf-8")) for path in index_paths]
        yield from heapq.merge(*files)
