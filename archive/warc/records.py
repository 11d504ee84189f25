"""Read WARC records back: stream a file, load the one record at an offset, check every record.

Everything streams through warcio's ArchiveIterator; no record or file is read into memory.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from isal import isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.utils import BUFF_SIZE, Digester

from archive.errors import WarcError
from archive.warc.storage import open_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from warcio.recordloader import ArcWarcRecord

logger = logging.getLogger(__name__)
# warcio warns of each target URI with spaces it reads (it takes them as %20), at every read of
# the record: not damage, and not worth a line per record.
logging.getLogger("warcio.recordloader").setLevel(logging.ERROR)

T = TypeVar("T")
_GZIP_MAGIC = b"\x1f\x8b\x08"  # a gzip member, deflate: where a record of a .warc.gz file may start
_WARC_MAGIC = b"\nWARC/1."  # a WARC 1.0 or 1.1 header at the start of a line
_SEARCH_BLOCK = 1024 * 1024
_GZIP_WBITS = 16 + 15  # a gzip member, with its header and trailer
_GZIP_LEVEL = 2  # isal's levels are 0-3, as the writer's
_SHARED_MEMBER = "several records in one gzip member (`warcio recompress` gives each its own)"


def iter_records(path: Path) -> Iterator[tuple[ArcWarcRecord, int, int]]:
    """Yield each record of a WARC file, unread, with its offset and length in the file.

    A gzip member's length is known only once it has been read, so one handle scans ahead
    to find each record's span while a second handle loads the record at that offset. The
    caller gets an unread record and its locator; nothing is buffered. As with warcio, a
    record is valid only until the next one is yielded.
    """
    with open_file(path) as scan_fh, open_file(path) as load_fh:
        scanner = ArchiveIterator(scan_fh, no_record_parse=True)
        end = 0
        try:
            for _ in scanner:
                offset, length = scanner.get_record_offset(), scanner.get_record_length()
                if offset < end or length <= 0:  # warcio's offsets inside a gzip member holding several records
                    raise WarcError(f"{path}: offset {end}: {_SHARED_MEMBER}")
                end = offset + length
                yield _load(load_fh, path, offset), offset, length
        except WarcError:
            raise
        # warcio raises assorted errors on damaged input (see scan_records)
        except Exception as exc:  # noqa: BLE001
            raise WarcError(f"{path}: unreadable WARC record at offset {end}: {_short(exc)}") from exc


@contextmanager
def read_record(path: Path | str, offset: int, length: int | None = None) -> Iterator[ArcWarcRecord]:
    """Open a WARC file (a path, or an object storage URL) and yield the record at ``offset``: one
    seek, no scan, as an index lookup needs.

    With ``length``, the record's length in the file as an index has it, the record is read
    in one piece and a gzip member is inflated with ISA-L before warcio parses it: a large
    page then costs one read and one inflate (ISA-L's is about 3x zlib's) instead of warcio's
    16 KiB steps through zlib.
    """
    with open_file(path) as fh:
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
    with open_file(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        magic = _GZIP_MAGIC if fh.read(2) == _GZIP_MAGIC[:2] else _WARC_MAGIC
        start: int | None = 0
        while start is not None:
            fh.seek(start)
            iterator = ArchiveIterator(fh, check_digests=True)
            # Where the next record must start. warcio computes offsets from the file position
            # less what it has buffered, which inside a damaged gzip member can point anywhere
            # before it, even before the file: damage is placed here at the earliest, so each
            # search for the next record starts further on and the scan ends.
            floor = start
            start = None
            while True:
                offset = max(iterator.offset, floor)
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
                    if not problem and (iterator.get_record_offset() != offset or iterator.get_record_length() <= 0):
                        problem = "not where the record before it ends (damaged gzip member?)"
                # warcio raises assorted errors on damaged input (ArchiveLoadFailed,
                # AttributeError, EOFError, zlib.error...): any of them means the record is unreadable.
                except Exception as exc:  # noqa: BLE001
                    problem = f"unreadable ({_short(exc)})"
                if problem:
                    start = _next_record(fh, path, offset + 1, magic)
                    yield Damage(offset, problem, start)
                    break
                floor = offset + iterator.get_record_length()
                yield WholeRecord(record, offset, floor - offset, payload, digest)


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


def shares_gzip_members(path: Path) -> bool:
    """Whether the gzip member a file starts with holds more than its first record.

    Such a file (``gzip file.warc``: one member for the whole file) is valid, but no record
    of it can be read at an offset; ``recompress`` makes one that can be.
    """
    with open_file(path) as fh:
        if fh.read(2) != _GZIP_MAGIC[:2]:
            return False
        fh.seek(0)
        iterator = ArchiveIterator(fh, no_record_parse=True)
        try:
            if _quietly(next, iterator, None) is None:
                return False
            _quietly(iterator.read_to_end)
        except Exception:  # noqa: BLE001  (a damaged first record: the scan reports it)
            return False
        return bool(iterator.next_line) and iterator.next_line.startswith(b"WARC/")


def recompress(path: Path, target: Path) -> list[Damage]:
    """Write ``path``, a gzip file whose members hold several records, to ``target`` with a
    gzip member per record, as ``warcio recompress`` does, but keeping every record's bytes
    (warcio writes the records it parsed anew); return where the gzip data was damaged.

    The file is inflated front to back, members one after the other, never seeking in a
    gzip stream; what cannot be inflated is lost (deflate has no point to resume from).
    Bytes that hold no whole record are kept too, each run of them in a member of its own.
    """
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".inflated") as plain:
        damage = _inflate(path, plain)
        plain.flush()
        cuts = {0}  # where each record, and each run of bytes holding none, starts
        for found in scan_records(Path(plain.name)):
            cuts.add(found.offset)
            if isinstance(found, Damage) and found.resumed_at is not None:
                cuts.add(found.resumed_at)
        starts = sorted(cuts)
        ends = [*starts[1:], os.fstat(plain.fileno()).st_size]
        plain.seek(0)
        try:
            with target.open("wb") as out:
                for start, end in zip(starts, ends, strict=True):
                    member = isal_zlib.compressobj(_GZIP_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
                    for _ in range(start, end, BUFF_SIZE):
                        out.write(member.compress(plain.read(min(BUFF_SIZE, end - plain.tell()))))
                    out.write(member.flush())
        except OSError as exc:
            target.unlink(missing_ok=True)
            raise WarcError(f"cannot write {target}: {exc}") from exc
    return damage


def _inflate(path: Path, out: BinaryIO) -> list[Damage]:
    """Inflate every gzip member of ``path`` into ``out``, in order; stop at damage and say where."""
    with open_file(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        inflater = isal_zlib.decompressobj(_GZIP_WBITS)
        fed = False  # the current member has had input
        position = 0  # of the block being inflated
        while block := fh.read(BUFF_SIZE):
            while block:
                try:
                    out.write(inflater.decompress(block))
                except isal_zlib.error as exc:
                    problem = f"gzip data damaged ({exc}): the {size - position} bytes from this block on are lost"
                    return [Damage(position, problem, None)]
                fed = True
                block = inflater.unused_data if inflater.eof else b""
                if inflater.eof:
                    inflater, fed = isal_zlib.decompressobj(_GZIP_WBITS), False
            position = fh.tell()
        if fed:
            return [Damage(size, "the gzip data ends before its member does (file cut short?)", None)]
        return []


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
    decompressor = iterator.reader.decompressor
    if decompressor is None:
        return None
    # In a gzip file, the record's member must end after its blank lines: the line read
    # after them is the member's (the decoder can be at its end with that line buffered).
    if iterator.next_line:
        return _SHARED_MEMBER if iterator.next_line.startswith(b"WARC/") else "its gzip member goes on after it"
    # Only the gzip decoder can tell that a member lost its trailer after the record's data.
    if not decompressor.eof:
        return "its gzip member is incomplete (cut short?)"
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


def _short(exc: Exception) -> str:
    """An exception as a few words on one line: warcio's messages run over lines and quote the bytes it found."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:100]}" if text else type(exc).__name__


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
    # warcio raises ArchiveLoadFailed, and on damaged headers AttributeError, ValueError...;
    # it quotes the bytes it found, and a line of compressed data is noise: kept short.
    except Exception as exc:  # noqa: BLE001
        raise WarcError(
            f"{path}: no WARC record starts at offset {offset} (an offset from another file?): {_short(exc)[:80]}"
        ) from exc
    # warcio also takes a line of noise for an old-style ARC record header: that is no record of ours.
    if not record.rec_headers.get_header("WARC-Type"):
        raise WarcError(f"{path}: no WARC record starts at offset {offset} (an offset from another file?)")
    return record

