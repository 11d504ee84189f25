"""Read WARC records back: stream a file, load the one record at an offset, check every record.

Everything streams through warcio's ArchiveIterator; no record or file is read into memory.
"""

from __future__ import annotations

import io
import logging
import os
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from isal import isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.utils import BUFF_SIZE, Digester

from archive.errors import WarcError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from warcio.recordloader import ArcWarcRecord

logger = logging.getLogger(__name__)

T = TypeVar("T")
_GZIP_MAGIC = b"\x1f\x8b\x08"  # a gzip member, deflate: where a record of a .warc.gz file may start
_WARC_MAGIC = b"\nWARC/1."  # a WARC 1.0 or 1.1 header at the start of a line
_SEARCH_BLOCK = 1024 * 1024
_GZIP_WBITS = 16 + 15  # a gzip member, with its header and trailer


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
def read_record(path: Path, offset: int, length: int | None = None) -> Iterator[ArcWarcRecord]:
    """Open a WARC file and yield the record at ``offset``: one seek, no scan, as an index lookup needs.

    With ``length``, the record's length in the file as an index has it, the record is read
    in one piece and a gzip member is inflated with ISA-L before warcio parses it: a large
    page then costs one read and one inflate (ISA-L's is about 3x zlib's) instead of warcio's
    16 KiB steps through zlib.
    """
    with _open(path) as fh:
        if length is None:
            yield _load(fh, path, offset)
            return
        fh.seek(offset)
        data = fh.read(length)
        if data.startswith(_GZIP_MAGIC):
            try:
                data = isal_zlib.decompress(data, _GZIP_WBITS)
            except isal_zlib.error as exc:
                raise WarcError(f"{path}: the record at offset {offset} is damaged or cut short: {exc}") from exc
        yield _parse(io.BytesIO(data), path, offset, block_size=max(len(data), 1))


@dataclass(frozen=True, slots=True)
class WholeRecord:
    """A record read to its end and found whole; its streams are spent, its headers are not.

    ``payload``: the first bytes of its payload, as many as the scan's ``keep`` asked for
    plus one (so a caller can tell it was cut). ``payload_digest``: WARC-Payload-Digest, or
    for a response without one, the SHA-1 of its payload as warcio would write it.
    """

    record: ArcWarcRecord
    offset: int
    length: int
    payload: bytes
    payload_digest: str | None


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes of a WARC file that hold no whole record: where, what is wrong, and where reading resumed."""

    offset: int
    problem: str
    resumed_at: int | None  # the next whole record's offset; None: there is none


def scan_records(path: Path, keep: Callable[[ArcWarcRecord], int] = lambda record: 0) -> Iterator[WholeRecord | Damage]:
    """Read every record of a WARC file to its end, checking it; yield it, or the damage found.

    Each record's block is counted against its Content-Length and its digests checked
    (see ``_problem``). After damage, reading resumes at the next record: in a gzipped file
    (one member per record, as every WARC writer makes them) the next gzip member that
    parses as a WARC record, in an uncompressed one the next line starting ``WARC/1.``.
    warcio has no such recovery: its iterator stops at the first error. ``keep(record)``
    says how many payload bytes to keep in memory (0: none); the rest are only counted.
    """
    with _open(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        magic = _GZIP_MAGIC if fh.read(2) == _GZIP_MAGIC[:2] else _WARC_MAGIC
        start: int | None = 0
        while start is not None:
            fh.seek(start)
            iterator = ArchiveIterator(fh, check_digests=True)
            start = None
            while True:
                offset = iterator.offset
                try:
                    record = _quietly(next, iterator, None)
                    if record is None:
                        if offset < size:
                            start = _next_record(fh, path, offset + 1, magic)
                            problem = f"the {size - offset} bytes from here on hold no whole record (file cut short?)"
                            yield Damage(offset, problem, start)
                        break
                    payload, received, digest = _read_block(record, keep(record))
                    problem = _problem(record, iterator, received)
                # warcio raises assorted errors on damaged input (ArchiveLoadFailed,
                # AttributeError, EOFError, zlib.error...): any of them means the record is unreadable.
                except Exception as exc:  # noqa: BLE001
                    problem = f"unreadable ({exc!r})"
                if problem:
                    start = _next_record(fh, path, offset + 1, magic)
                    yield Damage(offset, problem, start)
                    break
                yield WholeRecord(record, offset, iterator.get_record_length(), payload, digest)


def verify_file(path: Path) -> int:
    """Read every record to its end, checking lengths, digests and gzip members; return the record count.

    ``warcio check`` misses a truncated final gzip member (warcio issue #138): warcio's
    reader stops quietly at the end of the file. ``scan_records`` does not.
    """
    count = 0
    for found in scan_records(path):
        if isinstance(found, Damage):
            raise WarcError(
                f"{path}: damaged WARC record at offset {found.offset}: {found.problem}; records before that offset are whole"
            )
        count += 1
    logger.debug("verified %s: %d records", path, count)
    return count


def _read_block(record: ArcWarcRecord, keep: int) -> tuple[bytes, int, str | None]:
    """Read a record's block to its end: the first ``keep`` + 1 payload bytes, the count, the payload digest.

    Raw bytes, not decoded content: a body whose Content-Encoding is wrong is what the
    server sent, not damage to the file.
    """
    digest = record.rec_headers.get_header("WARC-Payload-Digest")
    digester = Digester("sha1") if digest is None and record.rec_type == "response" else None
    kept = bytearray()
    received = 0
    while chunk := record.raw_stream.read(BUFF_SIZE):
        received += len(chunk)
        if len(kept) <= keep:
            kept += chunk[: keep + 1 - len(kept)]
        if digester is not None:
            digester.update(chunk)
    return bytes(kept), received, str(digester) if digester is not None else digest


def _problem(record: ArcWarcRecord, iterator: ArchiveIterator, received: int) -> str | None:
    """What is wrong with a record whose block has been read (``received`` bytes), or None."""
    if record.length is None:
        return "no Content-Length"
    expected = record.payload_length if record.payload_length >= 0 else record.length
    if received < expected:
        return f"{expected - received} of its {expected} bytes are missing (file cut short?)"
    if record.digest_checker.passed is False:
        return "; ".join(record.digest_checker.problems)
    _quietly(iterator.get_record_length)  # reads past the record's trailing blank lines
    if iterator.err_count:
        return "not followed by a blank line (wrong Content-Length?)"
    # Only the gzip decoder can tell that a member lost its trailer after the record's data.
    decompressor = iterator.reader.decompressor
    if decompressor is not None and not decompressor.eof:
        return "its gzip member is incomplete (cut short, or several records in one member)"
    return None


def _next_record(fh: BinaryIO, path: Path, start: int, magic: bytes) -> int | None:
    """The offset of the first record from ``start`` on: where ``magic`` begins one that parses."""
    position = start
    while True:
        fh.seek(position)
        block = fh.read(_SEARCH_BLOCK)
        found = block.find(magic)
        if found < 0:
            if len(block) < _SEARCH_BLOCK:
                return None
            position += len(block) - len(magic) + 1
            continue
        candidate = position + found + (magic == _WARC_MAGIC)  # after the line break
        try:
            _load(fh, path, candidate)
            return candidate
        except Exception:  # noqa: BLE001  (noise that looks like a record start: keep looking)
            position = candidate + 1


def _quietly(function: Callable[..., T], *args: object) -> T:
    """Call a warcio function that writes its warnings to stderr itself: ``_problem`` reports them."""
    with redirect_stderr(io.StringIO()):
        return function(*args)


def _load(fh: BinaryIO, path: Path, offset: int) -> ArcWarcRecord:
    """Parse the record starting at ``offset``; its streams read from ``fh`` until the next seek."""
    fh.seek(offset)
    return _parse(fh, path, offset)


def _parse(fh: BinaryIO, path: Path, offset: int, block_size: int = BUFF_SIZE) -> ArcWarcRecord:
    """Parse the record at ``fh``'s position, which is ``offset`` in ``path`` (for the messages)."""
    try:
        record = next(ArchiveIterator(fh, block_size=block_size))
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
