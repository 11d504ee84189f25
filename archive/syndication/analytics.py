"""Syndication analytics: who reposts whom, how fast, how much they change, how far stories spread.

Read from the tallies the writer keeps as it places pages (``archive.syndication.tallies``: one
count per page, its latest placed article, so a page crawled twice counts once, as in the
exports). A repost is a page placed as a ``copy`` or an ``excerpt`` of another (its parent): the
edge it adds to the site graph goes from the parent's site to its own. Each figure reads a few
thousand counters; the lags' quartiles, the lowest similarities and the top clusters' sites are
index seeks into the pages' facts. The same on SQLite and PostgreSQL, at any archive size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from archive.db.models import Article, Capture, PageFact, Syndication, Tally
from archive.syndication import tallies
from archive.syndication.tallies import UNKNOWN

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

#: How a lag was measured, most exact first (``tallies._lag``).
MEASURED = ("published", "published day", "captured")


@dataclass(frozen=True)
class SiteEdge:
    """Reposts ``to_site`` took from ``from_site``; ``cited`` of them name where they came from."""

    from_site: str
    to_site: str
    reposts: int
    cited: int


@dataclass(frozen=True)
class SiteEdits:
    """How much one site's reposts keep of their parents' text and what they change in it.

    ``mean_kept``: the share of the parent's text kept, over the copies diffed (``diff``);
    ``edits``: their counted edits per kind (``archive.syndication.edits``), summed.
    """

    site: str
    reposts: int
    copies: int
    excerpts: int
    mean_similarity: float | None
    min_similarity: float | None
    mean_kept: float | None
    edits: dict[str, int]


@dataclass(frozen=True)
class SiteLags:
    """One repost site's delays after their parents, in seconds: from the published times the two
    pages state (to the day when either gives no time), else from the parent's capture to the
    repost's first (``measured``: which of these its lags were). ``quartiles``: the lowest, the
    values at a quarter, half (the upper median of an even count) and three quarters of the
    reposts in order, and the highest."""

    site: str
    reposts: int
    measured: tuple[str, ...]
    quartiles: tuple[float, float, float, float, float]

    @property
    def median(self) -> float:
        return self.quartiles[2]


@dataclass(frozen=True)
class Spread:
    """Copies in one month (of the copy's published date) of stories by one author or origin site."""

    key: str
    month: str
    reposts: int


@dataclass(frozen=True)
class TopCluster:
    cluster_id: int
    copies: int
    sites: int
    origin_url: str | None
    origin_site: str | None
    title: str | None


def _tallies(session: Session, figure: str) -> list[Tally]:
    return list(session.scalars(select(Tally).where(Tally.figure == figure)))


def _of_site(site: str):  # noqa: ANN202
    """A condition on ``PageFact.site`` for a site as the figures name it."""
    return PageFact.site.is_(None) if site == UNKNOWN else PageFact.site == site


def site_graph(session: Session) -> list[SiteEdge]:
    """Who reposts whom, heaviest edge first. ``cited``: the repost names a source page or site
    (an "originally appeared at" URL, a "Source:" credit, a canonical link to another host)."""
    edges = [SiteEdge(t.name, t.detail, t.n, round(t.total)) for t in _tallies(session, "graph")]
    return sorted(edges, key=lambda e: (-e.reposts, e.from_site, e.to_site))


def site_edits(session: Session) -> list[SiteEdits]:
    """Per repost site: its reposts, copies and excerpts, their similarity to their parents, the
    share of text they keep and their edits by kind."""
    reposts: dict[str, dict[str, int]] = defaultdict(dict)
    for t in _tallies(session, "reposts"):
        reposts[t.name][t.detail] = t.n
    means = {figure: {t.name: t.total / t.n for t in _tallies(session, figure)} for figure in ("similarity", "kept")}
    kinds: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for t in _tallies(session, "kind"):
        kinds[t.name].append((t.detail, t.n))
    found = [
        SiteEdits(
            site, sum(counts.values()), counts.get("copy", 0), counts.get("excerpt", 0),
            means["similarity"].get(site), _lowest_similarity(session, site), means["kept"].get(site),
            dict(sorted(kinds[site], key=lambda kind: (-kind[1], kind[0]))),
        )
        for site, counts in reposts.items()
    ]
    return sorted(found, key=lambda e: (-e.reposts, e.site))


def _lowest_similarity(session: Session, site: str) -> float | None:
    return session.scalar(select(func.min(PageFact.similarity)).where(_of_site(site)))


def repost_lags(session: Session) -> list[SiteLags]:
    """Each repost site's lags (see ``SiteLags``), by site."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for t in _tallies(session, "lag"):
        counts[t.name][t.detail] = t.n
    found = []
    for site, measured in sorted(counts.items()):
        n = sum(measured.values())
        ranks = (0, n // 4, n // 2, 3 * n // 4, n - 1)
        quartiles = tuple(_lag_at(session, site, rank) for rank in ranks)
        found.append(SiteLags(site, n, tuple(m for m in MEASURED if m in measured), quartiles))  # type: ignore[arg-type]
    return found


def _lag_at(session: Session, site: str, rank: int) -> float:
    """The site's lag at ``rank`` in ascending order: a walk of its index (``site``, ``lag_seconds``)."""
    lag = session.scalar(
        select(PageFact.lag_seconds).where(_of_site(site), PageFact.lag_seconds.is_not(None))
        .order_by(PageFact.lag_seconds).offset(rank).limit(1)
    )
    assert lag is not None, (site, rank)  # the tallies count the facts' lags
    return lag


def spread(session: Session, by: str, limit: int = 10) -> list[Spread]:
    """Copies per month of the ``limit`` origin authors (``by="author"``) or origin sites
    (``by="site"``) copied most. Copies only: an excerpt names the page it was cut from, not
    that page's origin."""
    if by not in ("author", "site"):
        raise ValueError(f"spread by author or site, not {by!r}")
    figure = "author" if by == "author" else "origin_site"
    top = (
        select(Tally.name).where(Tally.figure == figure).group_by(Tally.name)
        .order_by(func.sum(Tally.n).desc(), Tally.name).limit(limit).subquery("top")
    )
    rows = session.execute(
        select(Tally.name, Tally.detail, Tally.n).where(Tally.figure == figure, Tally.name.in_(select(top.c.name)))
        .order_by(Tally.name, Tally.detail)
    ).all()
    return [Spread(*row) for row in rows]


def top_clusters(session: Session, limit: int = 10) -> list[TopCluster]:
    """The ``limit`` clusters with the most copies, with their origin page."""
    top = session.execute(
        select(Tally.name, Tally.n).where(Tally.figure == "cluster").order_by(Tally.n.desc(), Tally.name).limit(limit)
    ).all()
    origin = tallies.articles("origin")
    found = []
    for name, copies in top:
        cluster_id = int(name)
        sites, origin_id = session.execute(
            select(func.count(func.distinct(PageFact.site)), func.max(PageFact.origin_id))
            .where(PageFact.cluster_id == cluster_id, PageFact.relation.in_(("origin", "copy")))
        ).one()
        row = session.execute(select(origin.c.url, origin.c.site, origin.c.title).where(origin.c.id == origin_id)).first()
        found.append(TopCluster(cluster_id, copies, sites, *(row or (None, None, None))))
    return found


def cluster_sizes(session: Session, cluster_ids: Iterable[int]) -> dict[int, int]:
    """The number of pages (origin and copies; a page crawled twice once) in each of these clusters.

    From the clusters' own rows (indexed by cluster), not the ``pages`` view, whose grouping of
    every capture by page would cost a search page a scan of the archive."""
    ids = set(cluster_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Syndication.cluster_id, func.count(func.distinct(Capture.url_key)))
        .join(Article, Article.id == Syndication.article_id)
        .join(Capture, Capture.id == Article.capture_id)
        .where(Syndication.cluster_id.in_(ids), Syndication.relation.in_(("origin", "copy", "unique")))
        .group_by(Syndication.cluster_id)
    ).all()
    return {cluster_id: size for cluster_id, size in rows}
