"""ARC files (the Internet Archive's format before WARC) converted to WARC, record by record.

warcio reads ARC and gives each record WARC headers as it reads (``arc2warc``: the file
header becomes a warcinfo record, every other record a response), as pywb's indexer and
``warcio recompress`` read them. Written out, they make a WARC file that the rest of the
archive (index, replay, WACZ) reads like any other. Only ARC version 1 (five header fields,
what Heritrix and the Internet Archive wrote) is read: warcio knows no other.
"""

from __future__ import annotations

import gzip
import uuid
from typing import TYPE_CHECKING, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from archive.errors import WarcError
from archive.warc.records import Damage, _quietly, _short

if TYPE_CHECKING:
    from pathlib import Path

ARC_SUFFIXES = (".arc.gz", ".arc")
_FILEDESC = b"filedesc://"  # how an ARC file begins
#: Names the record IDs of converted records: ARC records have none.
_ID_NAMESPACE = uuid.UUID("0b5c2f4e-7a55-4e0b-9d7c-6f1d2a3b4c5d")


def is_arc_name(name: str) -> bool:
    return name.endswith(ARC_SUFFIXES)


def warc_name(arc_name: str) -> str:
    """The WARC file an ARC file becomes: ``NAME.arc.gz`` or ``NAME.arc`` -> ``NAME.warc.gz``."""
    suffix = next(s for s in ARC_SUFFIXES if arc_name.endswith(s))
    return arc_name[: -len(suffix)] + ".warc.gz"


def arc_to_warc(path: Path, target: Path) -> tuple[int, list[Damage]]:
    """Write every record of ARC file ``path`` to ``target`` as a WARC record, a gzip member each;
    return how many, and the damage that ended the reading early (the records before it are kept).

    warcio gives each record a random WARC-Record-ID at every read; here it is derived from the
    file's name and the record's offset, so converting a file again gives the same bytes, and
    importing it again adds nothing.
    """
    count, offset = 0, 0
    try:
        if not _starts_as_arc(path):
            return 0, [Damage(0, "no ARC file header (filedesc://)", None)]
        with path.open("rb") as fh, target.open("wb") as out:
            writer = WARCWriter(out, gzip=True, warc_version="WARC/1.0")
            iterator = ArchiveIterator(fh, arc2warc=True, verify_http=False)
            while True:
                written = out.tell()
                # warcio raises assorted errors on what is not ARC (ArchiveLoadFailed, ValueError...).
                try:
                    record = _quietly(next, iterator, None)
                    if record is None:
                        break
                    offset = iterator.offset  # where it starts (get_record_offset() would read it to its end)
                    record_id = uuid.uuid5(_ID_NAMESPACE, f"{path.name} {offset}")
                    record.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{record_id}>")
                    record.raw_stream = body = _Counted(record.raw_stream)
                    expected = record.length - (record.http_headers.total_len if record.http_headers else 0)
                    writer.write_record(record)  # (which sets the record's length to what it wrote)
                    if body.count < expected:
                        raise WarcError(f"{expected - body.count} of its {expected} bytes are missing (file cut short?)")
                    offset += _quietly(iterator.get_record_length)
                except Exception as exc:  # noqa: BLE001
                    out.truncate(written)  # no part of a record
                    problem = str(exc) if isinstance(exc, WarcError) else f"unreadable ({_short(exc)})"
                    return count, [Damage(offset, f"ARC record {problem}; the rest of the file is not read", None)]
                count += 1
    except OSError as exc:
        raise WarcError(f"cannot convert {path} to {target}: {exc}") from exc
    return count, []


class _Counted:
    """A record's block, read forward only and counted. warcio's writer digests a stream it can
    seek in and seeks back, which in a gzip member loses the block; this one it copies aside first."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data


def _starts_as_arc(path: Path) -> bool:
    """Whether the file begins with an ARC file header, compressed or not (warcio would read a WARC file too)."""
    with path.open("rb") as fh:
        start = fh.read(2)
        fh.seek(0)
        opened = gzip.open(fh) if start == b"\x1f\x8b" else fh
        try:
            return opened.read(len(_FILEDESC)) == _FILEDESC
        except (OSError, EOFError):  # a damaged gzip header
            return False
