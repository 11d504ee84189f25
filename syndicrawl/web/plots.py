"""The analytics figures, drawn with matplotlib (Agg, no display): SVG for the page and the report, PNG files on demand.

matplotlib rather than SVG of our own: axes, scales, box plots and legends are its job, and the
same figure comes out as SVG or PNG. It is imported when a figure is first drawn (half a second),
or by ``prepare`` when a server starts.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from syndicrawl.web.analytics import Analytics

FORMATS = ("svg", "png")


def _figure(height: float = 3.6) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(8, height), layout="constrained")


def prepare() -> None:
    """Import matplotlib and load its font: the half second a server spends at start rather than
    in its first analytics page."""
    fig = _figure(1)
    fig.add_subplot().set_title("analytics")
    render(fig, "svg")


#: The site graph draws this many of its heaviest edges (the table under it lists them all): 50
#: sites reposting one another make 2,000 edges, 10 s of CPU to draw and 2.7 MB of SVG.
EDGES = 30


def site_graph(data: Analytics) -> Figure:
    """Sites on a circle, an arrow from each site to the sites that repost it, as wide as the reposts."""
    fig = _figure(4.5)
    ax = fig.add_subplot()
    drawn = data.graph[:EDGES]  # heaviest first
    sites = sorted({e.from_site for e in drawn} | {e.to_site for e in drawn})
    where = {s: (math.cos(2 * math.pi * n / max(len(sites), 1)), math.sin(2 * math.pi * n / max(len(sites), 1)))
             for n, s in enumerate(sites)}
    heaviest = max((e.reposts for e in drawn), default=1)
    for edge in drawn:
        ax.annotate("", xy=where[edge.to_site], xytext=where[edge.from_site],
                    arrowprops={"arrowstyle": "-|>", "lw": 1 + 5 * edge.reposts / heaviest, "color": "#1f5f99",
                                "shrinkA": 18, "shrinkB": 18, "connectionstyle": "arc3,rad=0.15"})
        mid = [(a + b) / 2 for a, b in zip(where[edge.from_site], where[edge.to_site], strict=True)]
        ax.text(*mid, f"{edge.reposts} ({edge.cited} cited)", ha="center", va="bottom", fontsize=9)
    for site, (x, y) in where.items():
        ax.scatter([x], [y], s=400, color="#f2b134", zorder=3)
        ax.text(x, y - 0.18, site, ha="center", va="top", fontsize=10)
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.5, 1.4)
    ax.set_axis_off()
    shown = f"; the {EDGES} heaviest of {len(data.graph)}" if len(data.graph) > EDGES else ""
    ax.set_title(f"Who reposts whom (arrow: from the reposted site to the reposting one{shown})")
    return fig


def repost_lag(data: Analytics) -> Figure:
    """A box per repost site over its reposts' delays, in days: the box from the lower to the upper
    quartile, the whiskers to the shortest and the longest (``SiteLags.quartiles``)."""
    fig = _figure()
    ax = fig.add_subplot()
    stats = [
        {"label": lag.site, "whislo": low / 86400, "q1": q1 / 86400, "med": median / 86400, "q3": q3 / 86400,
         "whishi": high / 86400, "fliers": []}
        for lag in data.lags
        for low, q1, median, q3, high in [lag.quartiles]
    ]
    if stats:
        ax.bxp(stats, orientation="horizontal")
    ax.set_xlabel("days from the parent's publication to the repost's")
    ax.set_title("Repost lag per site")
    return fig


def edits(data: Analytics) -> Figure:
    """Per repost site: similarity to the parent and share of its text kept (left), edits by kind (right)."""
    fig = _figure(max(3.0, 0.6 * len(data.edits) + 1.6))
    kept_ax, kinds_ax = fig.subplots(1, 2, sharey=True)  # the sites labelled once
    sites = [e.site for e in data.edits]
    rows = range(len(sites))
    kept_ax.barh([n - 0.2 for n in rows], [e.mean_similarity or 0 for e in data.edits], height=0.4,
                 color="#1f5f99", label="similarity")
    kept_ax.barh([n + 0.2 for n in rows], [e.mean_kept or 0 for e in data.edits], height=0.4,
                 color="#f2b134", label="text kept")
    kept_ax.set_yticks(list(rows), sites)
    kept_ax.set_xlim(0, 1)
    kept_ax.set_xlabel("mean share (1: the parent's text whole)")
    kept_ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)  # above: as near with 40 sites as with 2
    kinds = sorted({kind for e in data.edits for kind in e.edits})
    left = [0] * len(sites)
    for kind in kinds:
        counts = [e.edits.get(kind, 0) for e in data.edits]
        kinds_ax.barh(list(rows), counts, left=left, label=kind)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    kinds_ax.set_xlabel("edits, by kind")
    kinds_ax.xaxis.get_major_locator().set_params(integer=True)
    if kinds:
        kinds_ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3)
    fig.suptitle("How much each site edits")
    return fig


#: At most this many months are labelled on a spread's time axis: four years of months are 48
#: labels too close to read, and laying out each label's text is most of a figure's drawing time.
MONTH_TICKS = 12


def spread(data: Analytics) -> Figure:
    """Copies per month: one line per origin author (left) and per origin site (right)."""
    fig = _figure(4.0)
    for ax, (title, rows) in zip(fig.subplots(1, 2), (("per author", data.by_author), ("per origin site", data.by_site)),
                                 strict=True):
        lines: dict[str, dict[str, int]] = defaultdict(dict)
        for row in rows:
            lines[row.key][row.month] = row.reposts
        months = sorted({row.month for row in rows})
        for key, counts in lines.items():
            ax.plot(months, [counts.get(m, 0) for m in months], marker="o" if len(months) <= MONTH_TICKS else "",
                    label=key)
        ax.set_title(f"Spread {title}")
        ax.set_ylabel("copies")
        ax.set_ylim(bottom=0)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xticks(months[::max(1, math.ceil(len(months) / MONTH_TICKS))])
        ax.tick_params(axis="x", labelrotation=45)
        if lines:
            ax.legend(fontsize=8)
    return fig


def top_clusters(data: Analytics) -> Figure:
    fig = _figure()
    ax = fig.add_subplot()
    rows = list(reversed(data.clusters))
    labels = [f"#{c.cluster_id} {(c.title or '')[:40]}" for c in rows]
    ax.barh(labels, [c.copies for c in rows], color="#f2b134")
    ax.set_xlabel("copies")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Top clusters by number of copies")
    return fig


#: Each figure's file name and how it is drawn, in the order the page shows them.
FIGURES = {
    "site-graph": site_graph,
    "repost-lag": repost_lag,
    "edits": edits,
    "spread": spread,
    "top-clusters": top_clusters,
}


def render(fig: Figure, fmt: str) -> bytes:
    """The figure as ``fmt``; an SVG's text as text (the browser's sans-serif), not as glyph paths:
    a third less drawing time and half the bytes."""
    from matplotlib import rc_context

    out = io.BytesIO()
    with rc_context({"svg.fonttype": "none"}):
        fig.savefig(out, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
    return out.getvalue()
