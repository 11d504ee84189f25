"""What a spider's components share: the source's name, the archive channel, whether pages are extracted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.channel import ArchiveChannel


@dataclass(frozen=True)
class ArchiveContext:
    """Handed to each spider. Everything stored goes through ``channel`` to the archive writer
    process; ``extract`` says whether that process extracts articles (else: archive only)."""

    source: str
    channel: ArchiveChannel
    extract: bool
