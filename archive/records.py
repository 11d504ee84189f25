"""Read WARC records back: stream a file, load the one record at an offset, prove a file is whole.

Everything streams through warcio's ArchiveIterator; no record or file is read into memory.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.utils import BUFF_SIZE

from archive.errors import WarcError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from warcio.recordloader import ArcWarcRecord

logger = logging.getLogger(__name__)


def iter_records(path: Path) -> Iterator[tuple[ArcWarcRecord, int, int]]:
    """Yield each record of a WARC file, unread, with its offset and length in the file.

    A gzip member's length is known only once it has been read, so one handle scans ahead
    to find each record's span while a second handle loads the record at that offset. The
    caller gets an unread record and its locator; nothing is buffered. As with warcio, a
    record is valid only until the next one is yielded.
    """
    with _open(path) as scan_fh, _open(path) as load_fh:
        scanner = ArchiveIterator(scan_fh, no_record_parse=True)
        try:
            for _ in scanner:
                offset, length = scanner.get_record_offset(), scanner.get_record_length()
                yield _load(load_fh, path, offset), offset, length
        except ArchiveLoadFailed as exc:
            raise WarcError(f"{path}: unreadable WARC record at offset {scanner.offset}: {exc}") from exc


@contextmanager
def read_record(path: Path, offset: int) -> Iterator[ArcWarcRecord]:
    """Open a WARC file and yield the record at ``offset``: one seek, no scan, as an index lookup needs."""
    with _open(path) as fh:
        yield _load(fh, path, offset)


def verify_file(path: Path) -> int:
    """Read every record to its end, checking lengths, digests and gzip members; return the record count.

    ``warcio check`` misses a truncated final gzip member (warcio issue #138): warcio's
    reader stops quietly at the end of the file. So each record's block is counted
    against its Content-Length, each gzip member must end after its record, and the last
    record must end where the file does. Raw blocks are read, not decoded content: a body
    whose Content-Encoding is wrong is what the server sent, not damage to the file.
    """
    count = end = 0
    with _open(path) as fh:
        iterator = ArchiveIterator(fh, check_digests=True)
        while True:
            offset = iterator.offset
            try:
                record = next(iterator, None)
                if record is None:
                    break
                problem = _damage(record, iterator)
            # warcio raises assorted errors on damaged input (ArchiveLoadFailed,
            # AttributeError, EOFError, zlib.error...): any of them means the record is unreadable.
            except Exception as exc:  # noqa: BLE001
                problem = f"unreadable ({exc!r})"
            if problem:
                raise WarcError(
                    f"{path}: damaged WARC record at offset {offset}: {problem}; records before that offset are whole"
                )
            count += 1
            end = iterator.offset
        size = os.fstat(fh.fileno()).st_size
    if end != size:
        raise WarcError(
            f"{path}: the {size - end} bytes from offset {end} to the end hold no whole WARC record "
            "(cut short during a write?); records before that offset are whole"
        )
    logger.debug("verified %s: %d records", path, count)
    return count


def _damage(record: ArcWarcRecord, iterator: ArchiveIterator) -> str | None:
    """Read a record's block to the end and return what is wrong with it, or None."""
    if record.length is None:
        return "no Content-Length"
    expected = record.payload_length if record.payload_length >= 0 else record.length
    received = 0
    while chunk := record.raw_stream.read(BUFF_SIZE):
        received += len(chunk)
    if received < expected:
        return f"{expected - received} of its {expected} bytes are missing (file cut short?)"
    if record.digest_checker.passed is False:
        return "; ".join(record.digest_checker.problems)
    iterator.get_record_length()  # reads past the record's trailing blank lines
    if iterator.err_count:
        return "not followed by a blank line (wrong Content-Length?)"
    # Only the gzip decoder can tell that a member lost its trailer after the record's data.
    decompressor = iterator.reader.decompressor
    if decompressor is not None and not decompressor.eof:
        return "its gzip member is incomplete (cut short, or several records in one member)"
    return None


def _load(fh: BinaryIO, path: Path, offset: int) -> ArcWarcRecord:
    """Parse the record starting at ``offset``; its streams read from ``fh`` until the next seek."""
    fh.seek(offset)
    try:
        record = next(ArchiveIterator(fh))
    except StopIteration:
        raise WarcError(f"{path}: no WARC record at offset {offset}: end of file") from None
    except ArchiveLoadFailed as exc:
        # warcio quotes the bytes it found; a line of compressed data is noise, so keep it short.
        raise WarcError(
            f"{path}: no WARC record starts at offset {offset} (an offset from another file?): {str(exc)[:80]}"
        ) from exc
    # warcio also takes a line of noise for an old-style ARC record header: that is no record of ours.
    if not record.rec_headers.get_header("WARC-Type"):
        raise WarcError(f"{path}: no WARC record starts at offset {offset} (an offset from another file?)")
    return record


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise WarcError(f"cannot open WARC file {path}: {exc}") from exc
