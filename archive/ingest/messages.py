"""What the crawl process sends the archive writer process (``archive/ingest/service.py``), and how.

Kept apart from the service so that the crawl process imports only these small types, not
the writer's dependencies (SQLAlchemy models, trafilatura, numpy, datasketch).

On the pipe a message is a header (the pickle's length, then each buffer's), the pickle
(protocol 5), then the page bodies it holds, out of band: each body is written from the
crawler's own bytes object instead of being copied into the pickle, which cost the reactor
0.1 ms for a 130 KB page.
"""

from __future__ import annotations

import contextlib
import fcntl
import pickle
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from archive.warc.exchange import HttpExchange

if TYPE_CHECKING:
    from archive.db.locks import LockRequest


@dataclass(frozen=True)
class ArchiveConfig:
    """What the writer process needs to know; ``extract_workers`` 0 turns extraction off.

    ``locks``: taken by the writer before it reports ``ready``, held until its files are closed.
    """

    db_url: str
    warc_dir: Path
    warc_max_size: int
    software: str
    index_dir: Path
    sources: tuple[tuple[str, str], ...]  # (name, kind)
    #: Per source, seconds after an article page's first capture at which it is fetched again.
    rechecks: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    extract_workers: int = 0
    extract_timeout: float = 30.0
    extract_fast: bool = True
    extract_max_bytes: int = 5_000_000
    locks: LockRequest | None = None
    writer_id: str = ""  # the worker running the crawl: it ends the WARC files' names
    warc_storage: str = ""  # the object storage URL finished WARC files are uploaded to ("": none)


@dataclass(frozen=True, slots=True)
class Fetched:
    """An exchange to archive, with what the crawler knows of it.

    ``metadata`` is the capture's metadata record, written with it, or, with ``extract``,
    once the page is extracted, with the extraction's summary. ``metadata`` None: the
    spider has yet to decide whether to extract the page, and a ``page`` message follows.
    ``evidence``: the feed or sitemap entry's title, author and dates. ``recheck_of``: the
    capture whose validators the request sent (a recheck); a 304 is stored as a revisit of it.
    """

    exchange: HttpExchange
    discovered_from: str | None = None
    feed_url: str | None = None
    metadata: Mapping[str, Any] | None = None
    extract: bool = False
    evidence: Mapping[str, Any] = field(default_factory=dict)
    recheck_of: int | None = None


#: A pipe's buffer once widened (Linux lets an unprivileged process raise it to 1 MiB; the
#: default, 64 KiB, is half a page: a reader would wake up several times per page).
PIPE_SIZE = 1024 * 1024
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def widen_pipe(fd: int) -> None:
    """Raise the buffer of the pipe ``fd`` to PIPE_SIZE where the system allows it (Linux)."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)


_COUNTS = struct.Struct("<II")  # the pickle's length, the number of buffers
_LENGTH = struct.Struct("<Q")  # one buffer's length


def dump(message: Any) -> list[bytes | memoryview]:
    """``message`` framed for the pipe: the header and pickle, then each out-of-band body."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    views = [buffer.raw() for buffer in buffers]
    header = _COUNTS.pack(len(data), len(views)) + b"".join(_LENGTH.pack(view.nbytes) for view in views)
    return [header + data, *views]


def load(stream: BinaryIO) -> Any:
    """Read one message written by ``dump``; EOFError at the end of the stream, ValueError if
    the stream ends inside a message (a crawl killed mid-write)."""
    head = stream.read(_COUNTS.size)
    if not head:
        raise EOFError
    size, count = _COUNTS.unpack(_whole(head, _COUNTS.size))
    lengths = [_LENGTH.unpack(_whole(stream.read(_LENGTH.size), _LENGTH.size))[0] for _ in range(count)]
    data = _whole(stream.read(size), size)
    return pickle.loads(data, buffers=[_whole(stream.read(length), length) for length in lengths])


def _whole(data: bytes, size: int) -> bytes:
    if len(data) < size:
        raise ValueError(f"the stream ended {size - len(data)} bytes short of a whole message")
    return data
