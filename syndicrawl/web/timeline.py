"""A syndication chain laid out as a timeline: one lane per site, time left to right, parent → copy edges.

Drawn on the server as inline SVG (``templates/timeline.svg``) rather than by a JavaScript graph
library: the page then works with scripts off, its nodes are ordinary links a keyboard reaches,
screen readers get each node's ``<title>``, and the standalone report embeds it as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from archive.db import pages

if TYPE_CHECKING:
    from archive.syndication.chains import Node

LEFT, RIGHT, TOP, LANE, RADIUS = 170, 40, 40, 70, 9
WIDTH = 900


@dataclass(frozen=True)
class Point:
    node: Node
    x: float
    y: float
    when: datetime
    measured: str  # what ``when`` is: "published" or "first captured"


@dataclass(frozen=True)
class Edge:
    """A parent → copy arrow, its ends at the circles' edges (radius ``RADIUS``), not their centres."""

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def between(cls, a: Point, b: Point) -> Edge:
        length = math.hypot(b.x - a.x, b.y - a.y) or 1.0
        dx, dy = (b.x - a.x) / length * RADIUS, (b.y - a.y) / length * RADIUS
        return cls(a.x + dx, a.y + dy, b.x - dx, b.y - dy)


@dataclass(frozen=True)
class Timeline:
    points: list[Point]
    edges: list[Edge]
    lanes: list[tuple[str, float]]  # site, y
    ticks: list[tuple[str, float, str]]  # label, x, text-anchor
    width: int
    height: int
    radius: int = RADIUS


def _when(node: Node) -> tuple[datetime, str]:
    """A node's time: the instant its page states, or the day (midnight UTC), else its first capture."""
    day, moment = pages.published_parts(node.published)
    if moment is not None:
        return moment, "published"
    if day is not None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC), "published"
    return node.first_captured, "first captured"


def _flatten(root: Node) -> list[Node]:
    nodes, todo = [], [root]
    while todo:
        node = todo.pop(0)
        nodes.append(node)
        todo.extend(node.children)
    return nodes


def layout(root: Node, width: int = WIDTH) -> Timeline:
    """Positions for every node of the chain under ``root``: lanes in the order sites first appear
    (the origin's on top), x by time; nodes at one time on one site are set side by side."""
    nodes = _flatten(root)
    times = {node.article_id: _when(node) for node in nodes}
    sites = list(dict.fromkeys(node.site or "?" for node in nodes))
    lane_y = {site: TOP + LANE * n for n, site in enumerate(sites)}
    first = min(t for t, _ in times.values())
    last = max(t for t, _ in times.values())
    span = (last - first).total_seconds() or 1.0
    usable = width - LEFT - RIGHT
    taken: dict[tuple[str, int], int] = {}
    points: dict[int, Point] = {}
    for node in nodes:
        when, measured = times[node.article_id]
        x = LEFT + usable * (when - first).total_seconds() / span
        site = node.site or "?"
        slot = taken.get((site, round(x)), 0)
        taken[(site, round(x))] = slot + 1
        points[node.article_id] = Point(node, x + 18 * slot, lane_y[site], when, measured)
    edges = [
        Edge.between(points[node.parent_id], points[node.article_id])
        for node in nodes
        if node.parent_id in points and node.parent_id != node.article_id
    ]
    ticks = [(first.strftime("%Y-%m-%d %H:%M"), LEFT, "start")]
    if last != first:
        ticks.append((last.strftime("%Y-%m-%d %H:%M"), LEFT + usable, "end"))
    height = TOP + LANE * len(sites) + 10
    return Timeline(list(points.values()), edges, [(s, y) for s, y in lane_y.items()], ticks, width, height)
