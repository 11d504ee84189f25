"""Whether a page is an article is decided by its extraction (``archive.ingest.verdict``): home,
section, tag and archive pages are captures, with the reason, whatever theme the site has."""

from __future__ import annotations

import pytest

from archive.errors import NotAnArticle
from archive.ingest.extract import extract_article
from syndicrawl.demo.newssite import LAYOUTS, STYLES, NewsSite
from syndicrawl.demo.sites import blogger_site, wordpress_site
from tests.fixtures.newssite import SITE, stories
from tests.fixtures.servers import BLOGGER_POSTS, WORDPRESS_POSTS

BASE = "http://news.test"
_BY_LAYOUT = {layout: next(style for style, (lay, _) in STYLES.items() if lay == layout) for layout in LAYOUTS}


@pytest.mark.parametrize(
    ("layout", "reason"),
    [("list", "a list of links ("), ("cards", "a listing ("), ("grid", "a listing (")],
)
@pytest.mark.parametrize("path", ["/", "/world/", "/tag/topic-1/"])
def test_listing_pages_of_every_layout_are_no_articles(layout, reason, path) -> None:
    """A plain list is mostly link text; cards and an <article> grid are teasers, of which
    trafilatura gives one tile's headline and every tile's teaser."""
    site = NewsSite(SITE, stories(40), base_url=BASE, style=_BY_LAYOUT[layout], per_page=10)
    with pytest.raises(NotAnArticle, match=rf"^{BASE}{path}: not an article: {reason.replace('(', '[(]')}"):
        extract_article(site.reply_for(path).body, BASE + path)


def test_a_story_is_an_article() -> None:
    site = NewsSite(SITE, stories(40), base_url=BASE, style="cards-numbered", per_page=10)
    story = site.stories[3]
    article = extract_article(story.page, BASE + story.path)
    assert article.title == story.title and article.author and article.published


@pytest.mark.parametrize("path", ["/", "/page/2/", "/category/local/"])
def test_wordpress_home_and_archive_pages_are_no_articles_and_its_posts_are(path) -> None:
    """``import`` of a WordPress site's WARC stored its home and /page/2/ as articles."""
    site = wordpress_site("Harbourside Gazette", WORDPRESS_POSTS, base_url="http://wp.test", per_page=3, feed_items=3)
    with pytest.raises(NotAnArticle, match="a listing"):
        extract_article(site.reply_for(path).body, "http://wp.test" + path)
    for post in site.posts:
        assert extract_article(site.reply_for(site.path(post)).body, site.permalink(post)).title == post.title


def test_blogger_home_is_no_article_and_its_posts_are() -> None:
    site = blogger_site("Ruth's Allotment Diary", BLOGGER_POSTS, base_url="http://bl.test", per_page=3)
    with pytest.raises(NotAnArticle, match="a listing"):
        extract_article(site.reply_for("/").body, "http://bl.test/")
    for post in site.posts:
        assert extract_article(site.reply_for(site.path(post)).body, "http://bl.test" + site.path(post)).title == post.title


TEXT = " ".join(["The council met on Tuesday and agreed the new budget for the harbour and the schools."] * 3)
CARDS = "".join(
    f'<div class="card"><h3><a href="/story-{n}.html">Another story from the harbour desk {n}</a></h3>'
    f"<p>A teaser of story {n} that runs for a line or two below its headline in the card.</p></div>"
    for n in range(5)
)


def test_a_short_article_with_related_cards_is_an_article_when_it_says_so() -> None:
    """Related-story cards in the content outweigh a short article's text; the page's own
    ``og:type`` (or JSON-LD ``NewsArticle``) settles it."""
    body = f"<main><h1>Budget agreed</h1><p>{TEXT}</p>{CARDS}</main>"
    plain = f"<html><head><title>Budget agreed</title></head><body>{body}</body></html>"
    declared = plain.replace("<head>", '<head><meta property="og:type" content="article">')
    with pytest.raises(NotAnArticle, match="teasers"):
        extract_article(plain, f"{BASE}/budget.html")
    assert "budget" in extract_article(declared, f"{BASE}/budget.html").text


def test_an_article_in_one_block_with_its_sections_heading_is_an_article() -> None:
    """netzpolitik.org: the article's block holds a heading linking to its section ("Wissen"),
    which is a label, not a headline; nor is a long block a teaser."""
    related = "".join(f'<li><h4><a href="/r{n}.html">Related story number {n} here</a></h4></li>' for n in range(3))
    page = (
        f'<html><body><div class="post"><h2><a href="/wissen/">Wissen</a></h2><h1>Budget agreed</h1>'
        f"<p>{TEXT}</p><p>{TEXT}</p></div><ul>{related}</ul></body></html>"
    )
    assert extract_article(page, f"{BASE}/budget.html").title
