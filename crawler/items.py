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
    """A parsed feed and its entries (title, author, dates kept as evidence for each article)."""

    url: str
    kind: str
    title: str | None
    entries: list[dict[str, Any]]
