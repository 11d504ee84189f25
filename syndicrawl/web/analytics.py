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
    lags: list[analytics.SiteLags]
    edits: list[analytics.SiteEdits]
    by_author: list[analytics.Spread]
    by_site: list[analytics.Spread]
    clusters: list[analytics.TopCluster]

    def lag_table(self) -> list[tuple[str, int, float, str]]:
        """Per repost site, by name: its reposts, their median lag in days (the upper one of an
        even count) and how the lags were measured."""
        return [(lag.site, lag.reposts, lag.median / 86400, ", ".join(lag.measured)) for lag in self.lags]


def gather(session: Session) -> Analytics:
    """Every figure's data, from the tallies the writer keeps (``archive.syndication.tallies``)."""
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


#: The latest figures drawn, by the data they show: drawing takes about 0.1 s of CPU a plot, the
#: queries a tenth of that on the demo, and an archive between two crawls shows the same figures.
_drawn: dict[str, dict[str, str]] = {}


def data_uris(data: Analytics) -> dict[str, str]:
    """Each figure as an SVG ``data:`` URI: an ``<img>`` the page and the standalone report embed alike,
    whose styles the page's Content-Security-Policy does not have to allow."""
    key = repr(data)
    drawn = _drawn.get(key)
    if drawn is None:
        drawn = {name: "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
                 for name, svg in figures(data, "svg").items()}
        _drawn.clear()
        _drawn[key] = drawn
    return drawn
