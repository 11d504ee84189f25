"""What a spider's components share: its capture store, the archive-writer thread, the extractor pool."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archive.extract import ExtractorPool
    from archive.store import CaptureStore


@dataclass(frozen=True)
class ArchiveContext:
    """Handed to each spider. ``writer`` is a one-thread executor: every archive write runs there,
    off the reactor, and SQLite keeps a single writer. No ``extractor``: archive only."""

    store: CaptureStore
    writer: Executor
    extractor: ExtractorPool | None
