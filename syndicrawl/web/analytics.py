"""The analytics page's and the report's figures: the archive's aggregates, gathered once, and their plots."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archive.syndication import analytics
from syndicrawl.web import plots

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Analytics:
    graph: list[analytics.SiteEdge]
    lags: list[analytics.Lag]
    edits: list[analytics.SiteEdits]
    by_author: list[analytics.Spread]
    by_site: list[analytics.Spread]
    clusters: list[analytics.TopCluster]


def gather(session: Session) -> Analytics:
    return Analytics(
        graph=analytics.site_graph(session),
        lags=analytics.repost_lags(session),
        edits=analytics.site_edits(session),
        by_author=analytics.spread(session, "author"),
        by_site=analytics.spread(session, "site"),
        clusters=analytics.top_clusters(session),
    )


def figures(data: Analytics, fmt: str) -> dict[str, bytes]:
    """Each figure of ``plots.FIGURES``, drawn in ``fmt`` (svg or png)."""
    return {name: plots.render(draw(data), fmt) for name, draw in plots.FIGURES.items()}


def data_uris(data: Analytics) -> dict[str, str]:
    """Each figure as an SVG ``data:`` URI: an ``<img>`` the page and the standalone report embed alike,
    whose styles the page's Content-Security-Policy does not have to allow."""
    return {name: "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
            for name, svg in figures(data, "svg").items()}
