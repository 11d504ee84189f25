"""The analytics page's and the report's figures: the archive's aggregates, gathered once, and their plots."""

from __future__ import annotations

import base64
import statistics
from collections import defaultdict
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

    def lag_table(self) -> list[tuple[str, int, float, str]]:
        """Per repost site, by name: its reposts, their median lag in days (the upper one of an
        even count) and how the lags were measured. Here, not in the template: Jinja's groupby
        and sort over 400,000 lags took 3 s."""
        by_site: dict[str, list[analytics.Lag]] = defaultdict(list)
        for lag in self.lags:
            by_site[lag.site].append(lag)
        return [
            (site, len(lags), statistics.median_high(lag.seconds for lag in lags) / 86400,
             ", ".join(dict.fromkeys(lag.measured for lag in lags)))
            for site, lags in sorted(by_site.items())
        ]


def gather(session: Session) -> Analytics:
    """Every figure's data, from one reading of the pages query (``analytics.page_rows``)."""
    with analytics.page_rows(session) as page:
        return Analytics(
            graph=analytics.site_graph(session, page),
            lags=analytics.repost_lags(session, page),
            edits=analytics.site_edits(session, page),
            by_author=analytics.spread(session, "author", page=page),
            by_site=analytics.spread(session, "site", page=page),
            clusters=analytics.top_clusters(session, page=page),
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
