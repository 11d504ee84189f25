"""The analytics of the view and of ``syndicrawl report``, on SQLite and PostgreSQL.

Read from the tallies kept as pages are placed (``archive.syndication.tallies``); the rows here
are written directly, then counted as ``dedup rebuild`` counts them. One story of the Courier (an origin site) copied by the Digest, which credits it, then by the
Mirror from the Digest, without credit; an excerpt of it on the Digest; a second story copied by
the Digest and crawled there twice (one page: counted once).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.db import catalog
from archive.db.engine import Database, sqlite_url
from archive.db.models import Article, ArticleCitation, EditSummary, PageFact, Syndication, Tally
from archive.db.urls import url_key
from archive.syndication import analytics, tallies
from tests.fixtures.cli import run_syndicrawl

T0 = datetime(2024, 3, 1, 8, tzinfo=UTC)
_ids = itertools.count(1)


def _page(s, site: str, url: str, *, captured: datetime, published: str | None, author: str | None = None) -> int:
    source = catalog.ensure_source(s, site, "origin" if site == "courier" else "repost")
    n = next(_ids)
    capture = catalog.add_capture(
        s, source_id=source.id, url=url, timestamp=captured, status=200, mime="text/html", warc_file="x.warc.gz",
        warc_offset=n, warc_length=1, record_id=f"<urn:uuid:{n}>", payload_digest=f"sha1:{n}",
    )
    return catalog.add_article(s, capture_id=capture.id, url=url, title=url, author=author, published=published,
                               text="text").id


def _place(s, article: int, cluster: int, relation: str, parent: int | None, origin: int | None,
           similarity: float | None) -> None:
    s.add(Syndication(article_id=article, cluster_id=cluster, relation=relation, parent_id=parent, origin_id=origin,
                      similarity=similarity))


@pytest.fixture
def archive(database: Database) -> Database:
    return _fill(database)


def _fill(database: Database) -> Database:
    with database.session() as s, s.begin():
        story = _page(s, "courier", "http://courier.example/a", captured=T0, published="2024-03-01T08:00:00+00:00",
                      author="Ann")
        digest = _page(s, "digest", "http://digest.example/a", captured=T0 + timedelta(hours=3),
                       published="2024-03-01T10:00:00+00:00")
        mirror = _page(s, "mirror", "http://mirror.example/a", captured=T0 + timedelta(days=2), published="2024-03-02")
        excerpt = _page(s, "digest", "http://digest.example/teaser", captured=T0 + timedelta(hours=5), published=None)
        second = _page(s, "courier", "http://courier.example/b", captured=T0 + timedelta(days=35),
                       published="2024-04-05", author="Bob")
        recrawled = [
            _page(s, "digest", "http://digest.example/b", captured=T0 + timedelta(days=36 + n), published="2024-04-06")
            for n in range(2)
        ]
        _place(s, story, story, "origin", None, story, None)
        _place(s, digest, story, "copy", story, story, 0.9)
        _place(s, mirror, story, "copy", digest, story, 0.7)
        _place(s, excerpt, excerpt, "excerpt", story, None, 0.3)
        _place(s, second, second, "origin", None, second, None)
        for article in recrawled:
            _place(s, article, second, "copy", second, second, 0.95)
        s.add(ArticleCitation(url_key=url_key("http://courier.example/a"), article_id=digest))
        s.add(EditSummary(article_id=digest, against_id=story, kept=0.8, counts='{"header": 1, "links_removed": 2}'))
        s.add(EditSummary(article_id=mirror, against_id=digest, kept=0.6, counts='{"paragraph_dropped": 1}'))
        s.add(EditSummary(article_id=recrawled[-1], against_id=second, kept=1.0, counts='{"header": 1}'))
        s.flush()
        tallies.rebuild(s)
    return database


def test_site_graph_counts_each_page_once_with_the_cited_share(archive: Database) -> None:
    with archive.session() as s:
        assert analytics.site_graph(s) == [
            analytics.SiteEdge("courier", "digest", reposts=3, cited=1),
            analytics.SiteEdge("digest", "mirror", reposts=1, cited=0),
        ]


def test_site_edits_split_copies_and_excerpts_with_text_kept_and_edit_kinds(archive: Database) -> None:
    with archive.session() as s:
        edits = {e.site: e for e in analytics.site_edits(s)}
    assert (edits["digest"].copies, edits["digest"].excerpts) == (2, 1)
    assert edits["digest"].mean_similarity == pytest.approx((0.9 + 0.3 + 0.95) / 3)
    assert edits["digest"].min_similarity == pytest.approx(0.3)
    assert (edits["mirror"].reposts, edits["mirror"].mean_similarity) == (1, pytest.approx(0.7))
    # the copies diffed against their parents: what they kept and changed
    assert edits["digest"].mean_kept == pytest.approx(0.9) and edits["mirror"].mean_kept == pytest.approx(0.6)
    assert edits["digest"].edits == {"header": 2, "links_removed": 2}
    assert edits["mirror"].edits == {"paragraph_dropped": 1}


def test_repost_lag_from_published_times_then_days_then_captures(archive: Database) -> None:
    from syndicrawl.web.analytics import Analytics

    with archive.session() as s:
        found = analytics.repost_lags(s)
        lags = sorted(s.execute(select(PageFact.site, PageFact.lag_seconds, PageFact.lag_measured)
                                .where(PageFact.lag_seconds.is_not(None))).all())
    table = Analytics(graph=[], lags=found, edits=[], by_author=[], by_site=[], clusters=[]).lag_table()
    assert [(site, n, days) for site, n, days, _ in table] == [("digest", 3, 5 / 24), ("mirror", 1, 1.0)]  # upper median
    assert [(lag.site, lag.measured, lag.quartiles) for lag in found] == [
        ("digest", ("published", "published day", "captured"), (7200.0, 7200.0, 18000.0, 86400.0, 86400.0)),
        ("mirror", ("published day",), (86400.0,) * 5),
    ]
    assert lags == [
        ("digest", 2 * 3600.0, "published"),  # 10:00, its parent 08:00
        ("digest", 5 * 3600.0, "captured"),  # the excerpt states no date
        ("digest", 86400.0, "published day"),  # 2024-04-06, its parent 2024-04-05
        ("mirror", 86400.0, "published day"),  # 2024-03-02, its parent 2024-03-01T10:00: to the day
    ]


def test_spread_per_author_and_origin_site_by_month(archive: Database) -> None:
    with archive.session() as s:
        assert [(r.key, r.month, r.reposts) for r in analytics.spread(s, "author")] == [
            ("Ann", "2024-03", 2), ("Bob", "2024-04", 1),
        ]
        assert [(r.key, r.month, r.reposts) for r in analytics.spread(s, "site")] == [
            ("courier", "2024-03", 2), ("courier", "2024-04", 1),
        ]


def test_top_clusters_by_copies(archive: Database) -> None:
    with archive.session() as s:
        top = analytics.top_clusters(s)
        sizes = analytics.cluster_sizes(s, [c.cluster_id for c in top])
    assert [(c.copies, c.sites, c.origin_url) for c in top] == [
        (2, 3, "http://courier.example/a"), (1, 2, "http://courier.example/b"),
    ]
    assert sizes == {top[0].cluster_id: 3, top[1].cluster_id: 2}  # the page crawled twice counts once


def test_report_writes_one_standalone_html_file_or_a_png_per_plot(tmp_path: Path) -> None:
    database = _fill(Database(sqlite_url(tmp_path)))
    database.dispose()
    result = run_syndicrawl("report", "--out", str(tmp_path / "report.html"), data_dir=tmp_path)
    assert result.returncode == 0 and result.stdout == f"Wrote {tmp_path / 'report.html'}\n", result.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count('<img src="data:image/svg+xml;base64,') == 5
    assert "<style>" in page and 'href="/' not in page and 'src="/' not in page  # opens offline, anywhere
    assert "<td>courier</td><td>digest</td><td class=\"n\">3</td><td class=\"n\">1 (33%)</td>" in page

    result = run_syndicrawl("report", "--out", str(tmp_path / "plots"), "--format", "png", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    names = ["site-graph", "repost-lag", "edits", "spread", "top-clusters"]
    assert result.stdout.splitlines() == [f"Wrote {tmp_path / 'plots' / name}.png" for name in names]
    assert all((tmp_path / "plots" / f"{name}.png").read_bytes().startswith(b"\x89PNG") for name in names)


def test_the_site_graph_draws_its_heaviest_edges_only() -> None:
    """50 sites reposting one another make 2,000 edges: all drawn took 10 s of CPU and 2.7 MB of SVG."""
    from matplotlib.text import Annotation

    from syndicrawl.web import plots
    from syndicrawl.web.analytics import Analytics

    graph = [analytics.SiteEdge(f"origin{n % 10}", f"repost{n}", reposts=200 - n, cited=0) for n in range(200)]
    figure = plots.site_graph(Analytics(graph=graph, lags=[], edits=[], by_author=[], by_site=[], clusters=[]))
    [ax] = figure.axes
    assert sum(isinstance(text, Annotation) for text in ax.texts) == plots.EDGES and ax.get_title().endswith(f"the {plots.EDGES} heaviest of 200)")


def _counted(s) -> tuple[list[tuple], dict[tuple, tuple[int, float]]]:
    """Every page fact, and every tally as (n, total), as stored now."""
    facts = sorted(tuple(row) for row in s.execute(select(*PageFact.__table__.c)))
    counts = {(t.figure, t.name, t.detail): (t.n, t.total) for t in s.scalars(select(Tally))}
    return facts, counts


def _from_scratch(s) -> tuple[list[tuple], dict[tuple, tuple[int, float]]]:
    """What ``tallies.rebuild`` counts from the placements stored, in a transaction rolled back."""
    savepoint = s.begin_nested()
    tallies.rebuild(s)
    counted = _counted(s)
    savepoint.rollback()
    return counted


def _same(kept: tuple[list[tuple], dict], scratch: tuple[list[tuple], dict]) -> None:
    assert kept[0] == scratch[0]
    assert kept[1].keys() == scratch[1].keys()
    for key, (n, total) in scratch[1].items():  # totals are sums of similarities and shares: floats
        assert kept[1][key] == (n, pytest.approx(total, abs=1e-9)), key


def test_tallies_moved_page_by_page_equal_those_counted_from_scratch(archive: Database) -> None:
    """Placements change (a copy re-parented, an excerpt dropped, a copy's summary rewritten, a
    page placed for the first time): ``refresh`` of the pages touched gives what a rebuild counts."""
    with archive.session() as s, s.begin():
        mirror, excerpt, recrawled = (
            s.scalar(select(Syndication.article_id).join(Article, Article.id == Syndication.article_id)
                     .where(Article.url == url).order_by(Syndication.article_id.desc()).limit(1))
            for url in ("http://mirror.example/a", "http://digest.example/teaser", "http://digest.example/b")
        )
        story = s.scalar(select(Article.id).where(Article.url == "http://courier.example/a"))
        s.get(Syndication, mirror).parent_id = story
        s.delete(s.get(Syndication, excerpt))
        s.get(EditSummary, recrawled).counts = '{"paragraph_added": 3}'
        newcomer = _page(s, "mirror", "http://mirror.example/b", captured=T0 + timedelta(days=40), published="2024-04-09")
        _place(s, newcomer, s.get(Syndication, recrawled).cluster_id, "copy", recrawled, s.get(Syndication, recrawled).origin_id, 0.8)
        s.flush()
        tallies.refresh(s, [mirror, excerpt, recrawled, newcomer])
        _same(_counted(s), _from_scratch(s))
        assert analytics.site_graph(s) == [
            analytics.SiteEdge("courier", "digest", reposts=2, cited=1),
            analytics.SiteEdge("courier", "mirror", reposts=1, cited=0),
            analytics.SiteEdge("digest", "mirror", reposts=1, cited=0),
        ]


def test_a_crawl_keeps_the_tallies_that_counting_from_scratch_gives(tmp_path: Path) -> None:
    """The demo's crawl (copies, copies of copies, excerpts, a recrawl with a stealth edit) placed
    batch by batch: the tallies kept as it went are those a rebuild counts, and so are the figures."""
    from syndicrawl.web.analytics import gather

    result = run_syndicrawl("demo", "--port", "0", data_dir=tmp_path / "demo")
    assert result.returncode == 0, result.stderr
    database = Database(sqlite_url(tmp_path / "demo"))
    with database.session() as s, s.begin():
        kept, figures = _counted(s), gather(s)
        assert figures.graph and figures.lags and figures.clusters  # the demo has reposts to count
        scratch = _from_scratch(s)
        _same(kept, scratch)
        tallies.rebuild(s)
        assert gather(s) == figures
    database.dispose()
