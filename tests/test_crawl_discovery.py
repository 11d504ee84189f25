"""Discovery without a known theme: article links and older pages of plain news sites, found by
their structure (``crawler.discovery``), and whole crawls of such sites from their front page."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from scrapy.http import HtmlResponse

from crawler.discovery import article_links, older_pages, page_number
from syndicrawl.cli import cli
from syndicrawl.demo.newssite import STYLES, NewsSite
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.newssite import SITE, stories

BASE = "http://news.test"


def site(style: str, count: int = 60, per_page: int = 10) -> NewsSite:
    return NewsSite(SITE, stories(count), base_url=BASE, style=style, per_page=per_page)


def response(site_or_html: NewsSite | str, path: str = "/") -> HtmlResponse:
    body = site_or_html.reply_for(path).body if isinstance(site_or_html, NewsSite) else site_or_html.encode()
    return HtmlResponse(BASE + path, body=body, encoding="utf-8")


@pytest.mark.parametrize("style", STYLES)
def test_a_listing_page_gives_its_stories_and_nothing_else(style) -> None:
    """Menus (sections, search), the footer (about, privacy, feed), section kickers, "Read more"
    duplicates and the pager are not articles; the promoted section page is a link like a headline
    (the page's extraction says it is no article)."""
    news = site(style)
    for number, path in enumerate(news.listing_paths[:3]):
        found = article_links(response(news, path), ("news.test",))
        wanted = [BASE + story.path for story in news.pages[number]]
        promo = [f"{BASE}/world/"] if number == 0 else []
        assert found == promo + wanted, path


@pytest.mark.parametrize(
    ("style", "older"),
    [
        ("plain-list", ["/page/1/", "/page/2/", "/page/3/", "/page/4/", "/page/5/"]),  # the front links every page
        ("cards-numbered", ["/?page=2", "/?page=3", "/?page=4", "/?page=6"]),  # 1 ... 4 and the last
        ("grid-older", ["/archive/2/"]),  # "Ältere Artikel ›"
        ("cards-load-more", ["/?page=2"]),  # an infinite scroll's fallback link
    ],
)
def test_older_pages_by_structure(style, older) -> None:
    found = older_pages(response(site(style)), ("news.test",), 0)
    assert [url for url, _ in found] == [BASE + path for path in older]


def test_a_page_number_counts_hops_from_the_first_page_and_never_back() -> None:
    """Page N of a numbered pager is N - 1 hops from the first; from page 3 (2 hops), the link
    back to page 2 is no nearer. backfill_pages bounds these numbers."""
    news = site("cards-numbered")
    assert dict(older_pages(response(news), ("news.test",), 0))[BASE + "/?page=6"] == 5
    from_three = dict(older_pages(response(news, "/?page=3"), ("news.test",), 2))
    assert from_three[BASE + "/?page=2"] == 3 and from_three[BASE + "/?page=4"] == 3


@pytest.mark.parametrize(
    "text", ["Older posts »", "« Articles plus anciens", "Ältere Beiträge", "Siguiente ›", "次へ", "下一页", "»", "Next page"]
)
def test_older_links_by_their_text_in_many_languages(text) -> None:
    page = f'<html><body><ul><li><a href="/2024/a-long-story-title.html">A long story title here</a></li></ul>' \
           f'<a href="/archives/older.html">{text}</a></body></html>'
    assert older_pages(response(page), (), 4) == [(BASE + "/archives/older.html", 5)]
    assert article_links(response(page), ()) == [BASE + "/2024/a-long-story-title.html"]


def test_numeric_article_ids_are_articles_and_numbered_pager_links_are_pages() -> None:
    """``/news/123`` under a listing ``/news/`` is an article (sites number their stories); a bare
    ``/news/2/`` is the listing's page 2 only where the link says 2."""
    page = (
        '<html><body><div class="list">'
        + "".join(f'<div class="item"><a href="/news/{n}">Story {n} of the river desk</a></div>' for n in (481, 480, 479, 2))
        + '</div><div class="numbers"><a href="/news/2/">2</a> <a href="/news/3/">3</a></div></body></html>'
    )
    page_response = HtmlResponse(BASE + "/news/", body=page.encode(), encoding="utf-8")
    assert article_links(page_response, ()) == [f"{BASE}/news/{n}" for n in (481, 480, 479, 2)]
    assert older_pages(page_response, (), 0) == [(BASE + "/news/2/", 1), (BASE + "/news/3/", 2)]
    assert page_number(BASE + "/news/page/7/").number == 7 and page_number(BASE + "/x?page=3&s=a").listing == BASE + "/x?s=a"


def test_links_out_of_scope_or_to_files_tags_and_authors_are_not_articles() -> None:
    page = (
        '<html><body><main>'
        '<p><a href="http://other.test/a-story-elsewhere-today/">A story elsewhere today</a></p>'
        '<p><a href="/tag/river-news/">All the river news here</a></p>'
        '<p><a href="/author/mia-ortega/">Stories by Mia Ortega</a></p>'
        '<p><a href="/files/the-annual-report.pdf">The annual report in full</a></p>'
        '<p><a href="/2024/03/kept-story.html">The one story kept here</a></p>'
        '</main></body></html>'
    )
    assert article_links(response(page), ("news.test",)) == [BASE + "/2024/03/kept-story.html"]


@pytest.mark.parametrize("style", STYLES)
def test_a_front_page_and_backfill_pages_archive_every_story(tmp_path, news_server, fast_settings, style) -> None:
    """The issue's site: only a front page and backfill_pages; every story is archived as an
    article, and the listing and section pages it went through stay captures, with the reason."""
    server = news_server(style)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "courier", "kind": "origin", "start_urls": [server.url("/")], "backfill_pages": 10}],
    )
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp_path / "data", settings=fast_settings)
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(tmp_path / "data" / "syndicrawl.sqlite3")
    rows = {url: (status, error) for url, status, error in db.execute("SELECT url, status, error FROM articles")}
    captured = {url for (url,) in db.execute("SELECT url FROM captures")}
    failed = db.execute("SELECT failed FROM source_counts").fetchall()
    db.close()
    articles = {url for url, (status, _) in rows.items() if status == "ok"}
    assert articles == server.site.story_urls
    assert {server.url(path) for path in server.site.listing_paths} <= captured
    status, error = rows[server.url("/world/")]
    assert status == "not_article" and "not an article: a l" in error
    assert failed == [(0,)], "a listing is no failed extraction"


def test_max_pages_bounds_a_crawl_in_one_warning(tmp_path, news_server, fast_settings) -> None:
    server = news_server("plain-list")
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "courier", "kind": "origin", "start_urls": [server.url("/")], "backfill_pages": 10, "max_pages": 25}],
    )
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp_path / "data", settings=fast_settings)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("25 pages requested (max_pages); further links not followed") == 1
    db = sqlite3.connect(tmp_path / "data" / "syndicrawl.sqlite3")
    fetched = {url for (url,) in db.execute("SELECT url FROM captures") if not url.endswith("/robots.txt")}
    db.close()
    assert len(fetched) == 25


def test_max_depth_two_follows_the_links_of_a_section_page(tmp_path, news_server, fast_settings) -> None:
    """Depth 1 stops at what the front page links (its stories, the promoted section page); depth
    2 also takes the section page's own stories."""
    server = news_server("cards-numbered")
    front = {server.url(story.path) for story in server.site.pages[0]}
    world = [server.url(story.path) for story in server.site.stories if story.section == "World"]
    on_world_page = set(world[: len(server.site.pages[0])])
    reached = {}
    for depth in (1, 2):
        sources = write_sources(
            tmp_path / f"sources{depth}.toml",
            [{"name": "courier", "kind": "origin", "start_urls": [server.url("/")], "backfill_pages": 0, "max_depth": depth}],
        )
        data = tmp_path / f"data{depth}"
        result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=fast_settings)
        assert result.returncode == 0, result.stderr
        db = sqlite3.connect(data / "syndicrawl.sqlite3")
        reached[depth] = {url for (url,) in db.execute("SELECT url FROM articles WHERE status = 'ok'")}
        db.close()
    assert reached[1] == front
    assert reached[2] == front | on_world_page


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_pages = 0", "field 'max_pages': must be a whole number >= 1, got 0"),
        ("max_pages = 1.5", "field 'max_pages': must be a whole number >= 1, got 1.5"),
        ("max_depth = true", "field 'max_depth': must be a whole number >= 1, got True"),
        ('max_depth = "2"', "field 'max_depth': must be a whole number >= 1, got '2'"),
    ],
)
def test_bad_bounds_are_one_error_naming_the_field(tmp_path, line, message) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "a"\nkind = "origin"\nstart_urls = ["http://x.test/"]\n{line}\n')
    result = CliRunner().invoke(cli, ["sources", "--config", str(sources), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 1
    assert result.output == f"Error: {sources}: source #1 'a', {message}\n"


def test_sources_shows_each_sources_bounds(tmp_path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[source]]\nname = "a"\nkind = "origin"\nstart_urls = ["http://x.test/"]\nbackfill_pages = 20\nmax_pages = 3000\n'
        '[[source]]\nname = "b"\nkind = "origin"\nfeeds = ["http://y.test/feed"]\nmax_depth = 2\n'
    )
    assert CliRunner().invoke(cli, ["db", "upgrade", "--data-dir", str(tmp_path / "d")]).exit_code == 0
    result = CliRunner().invoke(cli, ["sources", "--json", "--config", str(sources), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    bounds = [{k: row[k] for k in ("source", "backfill_pages", "max_pages", "max_depth")} for row in json.loads(result.output)]
    assert bounds == [
        {"source": "a", "backfill_pages": 20, "max_pages": 3000, "max_depth": 1},
        {"source": "b", "backfill_pages": 0, "max_pages": 10_000, "max_depth": 2},
    ]
