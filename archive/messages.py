"""What the crawl process sends the archive writer process (``archive/service.py``).

Kept apart from the service so that the crawl process imports only these small types, not
the writer's dependencies (SQLAlchemy models, trafilatura, numpy, datasketch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.exchange import HttpExchange


@dataclass(frozen=True)
class ArchiveConfig:
    """What the writer process needs to know; ``extract_workers`` 0 turns extraction off."""

    db_url: str
    warc_dir: Path
    warc_max_size: int
    software: str
    index_dir: Path
    sources: tuple[tuple[str, str], ...]  # (name, kind)
    extract_workers: int = 0
    extract_timeout: float = 30.0
    extract_fast: bool = True
    extract_max_bytes: int = 5_000_000


@dataclass(frozen=True, slots=True)
class Fetched:
    """An exchange to archive, with what the crawler knows of it.

    ``metadata`` is the capture's metadata record, written with it, or, with ``extract``,
    once the page is extracted, with the extraction's summary. ``metadata`` None: the
    spider has yet to decide whether to extract the page, and a ``page`` message follows.
    ``evidence``: the feed or sitemap entry's title, author and dates.
    """

    exchange: HttpExchange
    discovered_from: str | None = None
    feed_url: str | None = None
    metadata: Mapping[str, Any] | None = None
    extract: bool = False
    evidence: Mapping[str, Any] = field(default_factory=dict)
