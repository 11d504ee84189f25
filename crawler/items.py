"""Items the spider yields. A captured page names its capture by number, not by a copy of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class CapturedPage:
    """An HTML page whose metadata record is still to be written; ``html`` set: extract it first.

    ``capture`` is the number the capture middleware gave the response in this crawl.
    """

    url: str
    html: str | None
    capture: int
    metadata: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FeedPage:
    """A parsed feed and its entries (title, author, dates kept as evidence for each article).

    ``poll``: for a feed of the sources file, the outcome of fetching it (plain data, see
    ``crawler.polls``), also for a 304 or a failure, which have no entries.
    """

    url: str
    kind: str
    title: str | None
    entries: list[dict[str, Any]]
    poll: dict[str, Any] | None = None
