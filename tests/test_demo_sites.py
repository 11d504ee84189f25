"""The generated sites over real HTTP: feeds, archives, robots.txt, quirks and the demo corpus."""

from __future__ import annotations

import gzip
import http.client
import json
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Iterator, Sequence
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import feedparser
import lxml.html
import pytest

import syndicrawl.demo
from syndicrawl.demo.articles import strip_links, text_to_html
from syndicrawl.demo.base import Reply
from syndicrawl.demo.render import newest_first
from syndicrawl.demo.server import CHUNK_SIZE, SiteServer, serve_demo_sites
from syndicrawl.demo.sites import BloggerSite, Post, WordPressSite, demo_posts
from tests.fixtures.servers import BLOGGER_POSTS, HUGE_SIZE, WORDPRESS_POSTS, FixedSite

WordPress = SiteServer[WordPressSite]
Blogger = SiteServer[BloggerSite]
Fixed = SiteServer[FixedSite]

SEED_NAME = "rbn-repost-lendman-aleppo-2016-11-01.txt"
PACKAGED_SEED = Path(syndicrawl.demo.__file__).parent / "content" / SEED_NAME
SHARED_SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / SEED_NAME
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def raw_get(
    base_url: str, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[http.client.HTTPResponse, bytes]:
    """Send one request with http.client, which neither decodes bodies nor merges headers."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def page(url: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(fetch(url))


# Feeds


@pytest.mark.parametrize("path", ["/feed/", "/feed/atom/"])
def test_wordpress_feeds_list_newest_entries(wordpress_server: WordPress, path: str) -> None:
    parsed = feedparser.parse(fetch(wordpress_server.url(path)))
    newest = newest_first(WORDPRESS_POSTS)[:3]
    assert not parsed.bozo
    assert [entry.title for entry in parsed.entries] == [post.title for post in newest]
    assert [entry.link for entry in parsed.entries] == [wordpress_server.site.permalink(post) for post in newest]
    assert [entry.author for entry in parsed.entries] == [post.author for post in newest]
    assert [entry.published_parsed[:6] for entry in parsed.entries] == [
        post.published.utctimetuple()[:6] for post in newest
    ]
    assert parsed.entries[0].content[0].value == newest[0].html_body.strip()


def test_wordpress_rss_dates_are_rfc822(wordpress_server: WordPress) -> None:
    parsed = feedparser.parse(fetch(wordpress_server.url("/feed/")))
    assert parsed.entries[0].published == "Fri, 30 Sep 2016 20:40:00 +0000"
    assert parsedate_to_datetime(parsed.entries[0].published) == newest_first(WORDPRESS_POSTS)[0].published


@pytest.mark.parametrize("path", ["/feeds/posts/default", "/feeds/posts/default?alt=rss"])
def test_blogger_feeds_list_newest_entries(blogger_server: Blogger, path: str) -> None:
    parsed = feedparser.parse(fetch(blogger_server.url(path)))
    newest = newest_first(BLOGGER_POSTS)[:5]
    assert not parsed.bozo
    assert parsed.version == ("rss20" if "alt=rss" in path else "atom10")
    assert [entry.title for entry in parsed.entries] == [post.title for post in newest]
    assert [entry.link for entry in parsed.entries] == [blogger_server.site.permalink(post) for post in newest]
    assert {entry.author_detail.name for entry in parsed.entries} == {"Ruth Marsh"}
    assert [entry.published_parsed[:6] for entry in parsed.entries] == [
        post.published.utctimetuple()[:6] for post in newest
    ]


def test_blogger_atom_dates_keep_the_local_offset(blogger_server: Blogger) -> None:
    parsed = feedparser.parse(fetch(blogger_server.url("/feeds/posts/default")))
    assert parsed.entries[0].published == "2016-10-27T15:25:00.000+01:00"


def test_every_page_head_advertises_its_feeds(wordpress_server: WordPress, blogger_server: Blogger) -> None:
    rss = "//head/link[@rel='alternate'][@type='application/rss+xml']/@href"
    atom = "//head/link[@rel='alternate'][@type='application/atom+xml']/@href"
    wordpress_pages = ["/", "/page/2/", wordpress_server.site.path(WORDPRESS_POSTS[0]), "/category/local/"]
    for path in wordpress_pages:
        assert page(wordpress_server.url(path)).xpath(rss) == [wordpress_server.url("/feed/")]
    for path in ("/", blogger_server.site.path(BLOGGER_POSTS[0])):
        doc = page(blogger_server.url(path))
        assert doc.xpath(atom) == [blogger_server.url("/feeds/posts/default")]
        assert doc.xpath(rss) == [blogger_server.url("/feeds/posts/default?alt=rss")]


# Archives


def walk_archive(start: str, titles: str, older: str) -> tuple[list[str], int]:
    """Follow "older" links from `start`; return the post links seen and the page count."""
    seen: list[str] = []
    pages, url = 0, start
    while url:
        doc = page(url)
        seen += doc.xpath(titles)
        pages += 1
        links = doc.xpath(older)
        url = links[0] if links else ""
    return seen, pages


def test_wordpress_archive_reaches_every_post_once(wordpress_server: WordPress) -> None:
    seen, pages = walk_archive(
        wordpress_server.url("/"),
        "//h2[@class='entry-title']/a[@rel='bookmark']/@href",
        "//div[@class='nav-previous']/a[.='Older posts']/@href",
    )
    assert seen == [wordpress_server.site.permalink(post) for post in newest_first(WORDPRESS_POSTS)]
    assert pages == 3


def test_blogger_archive_reaches_every_post_once(blogger_server: Blogger) -> None:
    seen, pages = walk_archive(
        blogger_server.url("/"),
        "//h3[@class='post-title entry-title']/a/@href",
        "//a[@class='blog-pager-older-link']/@href",
    )
    assert seen == [blogger_server.site.permalink(post) for post in newest_first(BLOGGER_POSTS)]
    assert pages == 3


def test_blogger_pager_link_is_the_last_post_timestamp(blogger_server: Blogger) -> None:
    older = page(blogger_server.url("/")).xpath("//a[@class='blog-pager-older-link']/@href")
    # The third post's time, with the "+" of its offset escaped, as Blogger writes it.
    assert newest_first(BLOGGER_POSTS)[2].published.isoformat() == "2016-10-16T20:15:00+01:00"
    assert older == [blogger_server.url("/search?updated-max=2016-10-16T20:15:00%2B01:00&max-results=3")]


def test_blogger_label_pages_list_only_that_label(blogger_server: Blogger) -> None:
    seen, _ = walk_archive(
        blogger_server.url("/search/label/Planting"),
        "//h3[@class='post-title entry-title']/a/@href",
        "//a[@class='blog-pager-older-link']/@href",
    )
    tagged = [post for post in newest_first(BLOGGER_POSTS) if "Planting" in post.categories]
    assert seen == [blogger_server.site.permalink(post) for post in tagged]


def test_permalink_pages_carry_machine_readable_dates(wordpress_server: WordPress, blogger_server: Blogger) -> None:
    post = WORDPRESS_POSTS[3]
    assert post.updated is not None
    doc = page(wordpress_server.site.permalink(post))
    assert doc.xpath("//time[contains(@class, 'published')]/@datetime") == [post.published.isoformat()]
    assert doc.xpath("//time[@class='updated']/@datetime") == [post.updated.isoformat()]
    assert doc.xpath("//meta[@property='article:published_time']/@content") == [post.published.isoformat()]
    assert doc.xpath("//link[@rel='canonical']/@href") == [wordpress_server.site.permalink(post)]
    doc = page(blogger_server.site.permalink(BLOGGER_POSTS[0]))
    assert doc.xpath("//abbr[@class='published']/@title") == ["2016-10-01T07:12:00.000+01:00"]
    assert doc.xpath("//meta[@itemprop='datePublished']/@content") == ["2016-10-01T07:12:00.000+01:00"]


# HTTP behaviour


def test_unknown_paths_are_404_and_slashless_paths_redirect(wordpress_server: WordPress) -> None:
    response, body = raw_get(wordpress_server.base_url, "/no/such/page/")
    assert response.status == 404 and b"Oops! That page can&rsquo;t be found." in body
    path = wordpress_server.site.path(WORDPRESS_POSTS[0])
    response, _ = raw_get(wordpress_server.base_url, path.rstrip("/"))
    assert (response.status, response.getheader("Location")) == (301, wordpress_server.url(path))


def test_wordpress_shortlinks_redirect_to_the_permalink(wordpress_server: WordPress) -> None:
    post = WORDPRESS_POSTS[0]
    response, _ = raw_get(wordpress_server.base_url, f"/?p={wordpress_server.site.post_ids[post.slug]}")
    assert (response.status, response.getheader("Location")) == (301, wordpress_server.site.permalink(post))
    assert raw_get(wordpress_server.base_url, "/?p=999999")[0].status == 404


def test_conditional_get_answers_304(wordpress_server: WordPress) -> None:
    response, _ = raw_get(wordpress_server.base_url, "/feed/")
    etag, modified = response.getheader("ETag"), response.getheader("Last-Modified")
    assert etag and modified
    assert raw_get(wordpress_server.base_url, "/feed/", {"If-None-Match": etag})[0].status == 304
    assert raw_get(wordpress_server.base_url, "/feed/", {"If-Modified-Since": modified})[0].status == 304
    assert raw_get(wordpress_server.base_url, "/feed/", {"If-None-Match": '"stale"'})[0].status == 200


def test_gzip_only_when_the_client_accepts_it(wordpress_server: WordPress) -> None:
    plain_response, plain = raw_get(wordpress_server.base_url, "/feed/")
    response, body = raw_get(wordpress_server.base_url, "/feed/", {"Accept-Encoding": "gzip, deflate"})
    refused, _ = raw_get(wordpress_server.base_url, "/feed/", {"Accept-Encoding": "gzip;q=0"})
    assert plain_response.getheader("Content-Encoding") is None
    assert refused.getheader("Content-Encoding") is None
    assert response.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == plain


def test_head_sends_headers_only(quirks_server: Fixed) -> None:
    response, body = raw_get(quirks_server.base_url, "/huge/", method="HEAD")
    assert body == b""
    assert int(response.getheader("Content-Length", "0")) == len(quirks_server.site.reply_for("/huge/").body)
    assert len(quirks_server.site.reply_for("/huge/").body) >= HUGE_SIZE > 2 * 1024 * 1024


def test_server_records_requests(wordpress_server: WordPress) -> None:
    wordpress_server.clear_requests()
    raw_get(wordpress_server.base_url, "/robots.txt", {"User-Agent": "syndicrawl-test"})
    [request] = wordpress_server.requests
    assert (request.method, request.path, request.headers["User-Agent"]) == ("GET", "/robots.txt", "syndicrawl-test")


def test_stopped_server_refuses_connections() -> None:
    with SiteServer(lambda base: WordPressSite("Brief", [], base_url=base)) as server:
        assert fetch(server.url("/robots.txt"))
    with pytest.raises(urllib.error.URLError):
        fetch(server.url("/robots.txt"))


# robots.txt and sitemaps


def test_robots_txt(wordpress_server: WordPress, blogger_server: Blogger, quirks_server: Fixed) -> None:
    assert fetch(wordpress_server.url("/robots.txt")).decode() == (
        f"User-agent: *\nDisallow: /private/\n\nSitemap: {wordpress_server.url('/sitemap.xml')}\n"
    )
    assert fetch(blogger_server.url("/robots.txt")).decode() == (
        f"User-agent: *\nDisallow:\n\nSitemap: {blogger_server.url('/sitemap.xml')}\n"
    )
    robots = urllib.robotparser.RobotFileParser(quirks_server.url("/robots.txt"))
    robots.read()
    assert not robots.can_fetch("syndicrawl", quirks_server.url("/private/secret/"))
    assert robots.can_fetch("syndicrawl", quirks_server.url("/gzip/article/"))


def test_wordpress_sitemap_index_points_at_a_gzip_urlset(wordpress_server: WordPress) -> None:
    index = ElementTree.fromstring(fetch(wordpress_server.url("/sitemap.xml")))
    [location] = [loc.text for loc in index.findall("s:sitemap/s:loc", SITEMAP_NS)]
    urls = ElementTree.fromstring(gzip.decompress(fetch(location)))
    assert [loc.text for loc in urls.findall("s:url/s:loc", SITEMAP_NS)] == [
        wordpress_server.site.permalink(post) for post in newest_first(WORDPRESS_POSTS)
    ]
    assert all(lastmod.text for lastmod in urls.findall("s:url/s:lastmod", SITEMAP_NS))


# Quirks


def test_gzip_endpoint_sends_the_exact_bytes(quirks_server: Fixed) -> None:
    expected = quirks_server.site.reply_for("/gzip/article/")
    response, body = raw_get(quirks_server.base_url, "/gzip/article/")  # no Accept-Encoding: sent anyway
    assert response.getheader("Content-Encoding") == "gzip"
    assert body == expected.body
    assert b"Lighthouse Keeper Retires" in gzip.decompress(body)


def test_repeated_headers_are_all_sent(quirks_server: Fixed) -> None:
    response, _ = raw_get(quirks_server.base_url, "/cookies/")
    headers = response.getheaders()
    assert [value for name, value in headers if name == "Set-Cookie"] == [
        "session=8f14e45f; Path=/; HttpOnly",
        "theme=dark; Path=/; Max-Age=3600",
    ]
    assert [value for name, value in headers if name == "X-Quirk"] == ["first", "second"]


def test_chunked_endpoint_sends_several_chunks(quirks_server: Fixed) -> None:
    expected = quirks_server.site.reply_for("/chunked/").body
    response, body = raw_get(quirks_server.base_url, "/chunked/")
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert body == expected
    assert len(expected) > 2 * CHUNK_SIZE


def test_redirects(quirks_server: Fixed, offsite_server: Fixed) -> None:
    response, _ = raw_get(quirks_server.base_url, "/redirect-offsite/")
    assert (response.status, response.getheader("Location")) == (302, offsite_server.url("/landing/"))
    with urllib.request.urlopen(quirks_server.url("/redirect-offsite/"), timeout=10) as followed:
        assert urlsplit(followed.url).hostname == "127.0.0.2"
        assert b"Landing" in followed.read()
    response, _ = raw_get(quirks_server.base_url, "/redirect-local/")
    assert (response.status, response.getheader("Location")) == (301, quirks_server.url("/gzip/article/"))


def test_broken_feed_is_bozo_but_readable(quirks_server: Fixed) -> None:
    parsed = feedparser.parse(fetch(quirks_server.url("/feed-broken/")))
    assert parsed.bozo
    assert len(parsed.entries) == 4
    good, no_link, bad_date, gone = parsed.entries
    assert good.link == quirks_server.url("/gzip/article/") and good.published_parsed
    assert "link" not in no_link
    assert bad_date.get("published_parsed") is None
    with pytest.raises(urllib.error.HTTPError) as error:
        fetch(gone.link)
    assert error.value.code == 404


def test_json_feed_and_atom(quirks_server: Fixed) -> None:
    feed = json.loads(fetch(quirks_server.url("/feed.json")))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert [item["url"] for item in feed["items"]] == [quirks_server.url(p) for p in ("/gzip/article/", "/chunked/")]
    atom = feedparser.parse(fetch(quirks_server.url("/atom.xml")))
    assert (atom.version, len(atom.entries), atom.bozo) == ("atom10", 2, False)


def test_sitemap_index_leads_to_a_gzip_sitemap(quirks_server: Fixed) -> None:
    index = ElementTree.fromstring(fetch(quirks_server.url("/sitemap-index.xml")))
    [location] = [loc.text for loc in index.findall("s:sitemap/s:loc", SITEMAP_NS)]
    assert location == quirks_server.url("/sitemap-a.xml.gz")
    urls = ElementTree.fromstring(gzip.decompress(fetch(location)))
    assert len(urls.findall("s:url", SITEMAP_NS)) == 5  # the two articles, /cookies/, /huge/ and /moved/


def test_slow_endpoint_does_not_answer_quickly(quirks_server: Fixed) -> None:
    with pytest.raises(TimeoutError):
        urllib.request.urlopen(quirks_server.url("/slow/"), timeout=0.5)


# The demo corpus


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[Blogger, WordPress]]:
    with serve_demo_sites() as servers:
        yield servers


def seed_lines() -> list[str]:
    return PACKAGED_SEED.read_text(encoding="utf-8").split("\n")


def find(posts: Sequence[Post], slug: str) -> Post:
    return next(post for post in posts if post.slug == slug)


def test_demo_sites_bind_different_loopback_hosts(demo: tuple[Blogger, WordPress]) -> None:
    blog, rbn = demo
    assert (urlsplit(blog.base_url).hostname, urlsplit(rbn.base_url).hostname) == ("127.0.0.1", "127.0.0.3")
    assert fetch(blog.url("/robots.txt")) and fetch(rbn.url("/robots.txt"))


def test_rbn_copy_of_the_seed(demo: tuple[Blogger, WordPress]) -> None:
    _, rbn = demo
    title, meta, *paragraphs = seed_lines()
    assert meta == "November 1, 2016 in News by RBN Staff"
    doc = page(rbn.site.permalink(find(rbn.site.posts, "us-supported-terrorists-fail-to-break-aleppo-siege")))
    assert doc.xpath("string(//h1[@class='entry-title'])") == title
    assert " ".join(doc.xpath("string(//div[@class='entry-meta'])").split()) == meta
    texts = [p.text_content() for p in doc.xpath("//div[@class='entry-content']/p")]
    assert texts == paragraphs
    assert "Stephen Lendman lives in Chicago. He can be reached at" in texts
    assert "Visit his blog site at" in texts
    assert not doc.xpath("//div[@class='entry-content']//a")


def test_blog_original_of_the_seed(demo: tuple[Blogger, WordPress]) -> None:
    blog, rbn = demo
    original = find(blog.site.posts, "us-supported-terrorists-fail-to-break")
    copy = find(rbn.site.posts, "us-supported-terrorists-fail-to-break-aleppo-siege")
    html = fetch(blog.site.permalink(original)).decode()
    assert '<a href="mailto:lendmanstephen@sbcglobal.net">lendmanstephen@sbcglobal.net</a>' in html
    assert "RBN Staff" not in html
    assert timedelta(0) < copy.published - original.published < timedelta(hours=12)
    # The copy is the original with the "by" line added and every link cut out.
    assert text_to_html(seed_lines()[3:]) == strip_links(original.html_body)


def test_other_reposts_and_hard_negatives() -> None:
    blog, rbn = demo_posts()
    reposts = [post for post in rbn if post.html_body.startswith("<p>by Stephen Lendman</p>")]
    assert len(reposts) == 3
    assert all("<a " not in post.html_body for post in reposts)
    assert sum("He can be reached at" in post.html_body for post in reposts) == 2  # one lost its footer
    assert len([post for post in blog if "Aleppo" in post.html_body]) >= 3
    assert all("lendmanstephen@sbcglobal.net" in post.html_body for post in blog)
    assert {post.published.month for post in blog + rbn} == {10, 11}


@pytest.mark.skipif(not SHARED_SEED.exists(), reason="the shared seed folder is not beside this checkout")
def test_packaged_seed_matches_the_users_example() -> None:
    assert PACKAGED_SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_reply_header_lookup_ignores_case() -> None:
    reply = Reply(200, (("Set-Cookie", "a=1"), ("set-cookie", "b=2")), b"")
    assert reply.header("SET-COOKIE") == "a=1"
