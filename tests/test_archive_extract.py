"""archive.ingest.extract: article extraction from HTML strings, and the worker pool around it."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator

import pytest
import trafilatura

from archive.errors import ExtractionError
from archive.ingest.extract import ExtractedArticle, ExtractorPool, extract_article, implausible, text_hash
from archive.ingest.service import _ReportHandler
from archive.warc.http import HttpBody

WORDPRESS_URL = "https://janedoe.example/seed-library/"
WORDPRESS = """<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<title>How We Started a Seed Library &#8211; Jane Doe Writes</title>
<link rel="canonical" href="https://janedoe.example/seed-library/">
<meta name="description" content="A small town, a shoebox of envelopes and a year of swapping seeds.">
<meta property="og:type" content="article">
<meta property="og:title" content="How We Started a Seed Library">
<meta property="og:site_name" content="Jane Doe Writes">
<meta property="article:published_time" content="2016-11-02T09:15:00+00:00">
<meta property="article:modified_time" content="2019-05-20T17:42:10+00:00">
</head>
<body class="post-template-default single single-post">
<header id="masthead" class="site-header"><p class="site-title"><a href="/">Jane Doe Writes</a></p>
<nav class="main-navigation"><ul><li><a href="/">Home</a></li><li><a href="/about/">About</a></li>
<li><a href="/contact/">Contact</a></li></ul></nav></header>
<div id="content" class="site-content"><main id="main" class="site-main">
<article id="post-42" class="post-42 post type-post status-publish hentry">
<header class="entry-header"><h1 class="entry-title">How We Started a Seed Library</h1>
<div class="entry-meta"><span class="posted-on">Posted on <time class="entry-date published"
 datetime="2016-11-02T09:15:00+00:00">November 2, 2016</time><time class="updated"
 datetime="2019-05-20T17:42:10+00:00">May 20, 2019</time></span>
<span class="byline"> by <span class="author vcard"><a class="url fn n" href="/author/jane/">Jane Doe</a>
</span></span>
</div></header>
<div class="entry-content">
<p>It began with a shoebox of paper envelopes on the counter of the town library, each one holding
a handful of bean seeds that a neighbour had saved from her garden the summer before.</p>
<p>Within a month the shoebox had become a cabinet. Gardeners brought tomatoes, squash and marigolds,
wrote the variety and the year on every envelope, and took home whatever caught their eye.</p>
<p>By the end of the first year more than two hundred families had borrowed seeds, and about half of
them returned new seeds from their own harvest, which is exactly how a seed library keeps going.</p>
<p>The rules we settled on were simple: take what you will plant, label what you bring back, and
never mind if a season fails, because the cabinet always holds a second chance.</p>
</div>
</article>
<section id="comments" class="comments-area"><h2 class="comments-title">2 thoughts</h2>
<ol class="comment-list"><li class="comment"><p>Lovely idea, we should do this in our village too!</p>
</li></ol>
</section>
</main>
<aside id="secondary" class="widget-area"><section class="widget"><h2>Recent posts</h2>
<ul><li><a href="/2016/10/compost/">Composting in small spaces</a></li></ul></section></aside></div>
<footer id="colophon" class="site-footer"><p>Proudly powered by WordPress. Theme by Example Themes.</p>
</footer>
</body>
</html>
"""

BLOGGER_URL = "https://birdnotes.blogspot.com/2016/12/winter-count.html"
BLOGGER = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE html>
<html class='v2' dir='ltr' xmlns='http://www.w3.org/1999/xhtml' xmlns:b='http://www.google.com/2005/gml/b'>
<head>
<meta content='text/html; charset=UTF-8' http-equiv='Content-Type'/>
<meta content='blogger' name='generator'/>
<link href='https://birdnotes.blogspot.com/2016/12/winter-count.html' rel='canonical'/>
<meta content='https://birdnotes.blogspot.com/2016/12/winter-count.html' property='og:url'/>
<meta content='The winter bird count' property='og:title'/>
<title>Bird Notes: The winter bird count</title>
</head>
<body>
<div class='header-outer'><h1 class='title'>Bird Notes</h1><p class='description'>Field notes</p></div>
<div class='main-outer'><div class='blog-posts hfeed'>
<div class='date-outer'><h2 class='date-header'><span>Friday, December 23, 2016</span></h2>
<div class='date-posts'><div class='post-outer'>
<div class='post hentry uncustomized-post-template' itemprop='blogPost' itemscope='itemscope'
 itemtype='http://schema.org/BlogPosting'>
<a name='8123456789'></a>
<h3 class='post-title entry-title' itemprop='name'>The winter bird count</h3>
<div class='post-header'><div class='post-header-line-1'></div></div>
<div class='post-body entry-content' id='post-body-8123456789' itemprop='description articleBody'>
Every December our club walks the same twelve kilometres along the river and counts every bird.<br />
<br />
This year we counted forty-one species, including a kingfisher that sat on the old railway bridge for
almost ten minutes while everybody fumbled with binoculars.<br />
<br />
The numbers go to the regional survey, where they join sixty years of counts from the same route,
which makes even a cold, grey morning feel like a small part of a very long conversation.
<div style='clear: both;'></div>
</div>
<div class='post-footer'><div class='post-footer-line post-footer-line-1'>
<span class='post-author vcard'>Posted by <span class='fn' itemprop='author' itemscope='itemscope'
 itemtype='http://schema.org/Person'><span itemprop='name'>Anna Lindqvist</span></span></span>
<span class='post-timestamp'>at <a class='timestamp-link'
 href='https://birdnotes.blogspot.com/2016/12/winter-count.html' rel='bookmark' title='permanent link'>
<abbr class='published' itemprop='datePublished'
 title='2016-12-23T08:30:00-08:00'>8:30 AM</abbr></a></span>
</div></div>
</div></div></div></div></div></div>
<div class='footer-outer'><p>Powered by Blogger.</p></div>
</body>
</html>
"""

GERMAN_URL = "https://zeitung.example/wissen/2018/stadtbaeume.html"
GERMAN = """<!DOCTYPE html>
<html lang="de">
<head><meta charset="utf-8"><title>Warum Stadtbäume im Sommer leiden</title>
<meta property="article:published_time" content="2018-07-14T06:00:00+02:00"></head>
<body><nav><a href="/">Startseite</a> <a href="/wissen/">Wissen</a></nav>
<article><h1>Warum Stadtbäume im Sommer leiden</h1>
<p>Straßenbäume haben es schwer: Ihre Wurzeln finden unter dem Asphalt kaum Platz, und in heißen Wochen
fehlt ihnen das Wasser, das auf versiegelten Flächen sofort in die Kanalisation abfließt.</p>
<p>Die Stadtgärtnerei gießt deshalb junge Bäume in den ersten drei Jahren regelmäßig, ältere Bäume müssen
sich selbst behelfen, und manche Anwohner greifen inzwischen selbst zur Gießkanne.</p>
<p>Fachleute empfehlen größere Baumscheiben und Pflanzgruben, in denen sich Regenwasser sammeln kann.</p>
</article><footer><p>Impressum · Datenschutz</p></footer></body></html>
"""

REPOST_URL = "https://aggregator.example/story/98765?utm_source=feed"
ORIGIN_URL = "https://janedoe.example/seed-library/"

BOILERPLATE_ONLY = """<html><head><title>Shop</title></head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/blog">Blog</a></li>
<li><a href="/contact">Contact</a></li></ul></nav></header>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your experience.
<button>Accept</button></p></div>
<footer><p>Copyright 2024 Example. All rights reserved.</p>
<p><a href="/imprint">Imprint</a> | <a href="/privacy">Privacy</a></p></footer>
</body></html>"""


def with_canonical(href: str) -> str:
    """The WordPress page served elsewhere, its canonical link pointing to ``href``."""
    return WORDPRESS.replace(f'rel="canonical" href="{WORDPRESS_URL}"', f'rel="canonical" href="{href}"')


# Module-level so that pool workers find them by reference, whatever the start method.
def flaky_extract(html: str | bytes, url: str) -> ExtractedArticle:
    """Misbehave as the URL says, otherwise extract normally."""
    if "hang" in url:
        time.sleep(3600)
    if "exit" in url:
        os._exit(3)
    if "kill" in url:
        os.kill(os.getpid(), signal.SIGKILL)
    if "raise" in url:
        raise ValueError("extractor bug")
    return extract_article(html, url)


# -- extract_article ---------------------------------------------------------------------------


def test_wordpress_article_metadata_and_text() -> None:
    article = extract_article(WORDPRESS, WORDPRESS_URL)

    assert article.title == "How We Started a Seed Library"
    assert article.author == "Jane Doe"
    assert article.published == "2016-11-02T09:15:00+00:00"  # article:published_time, not article:modified_time
    assert article.language == "en"
    assert article.sitename == "Jane Doe Writes"
    assert article.description == "A small town, a shoebox of envelopes and a year of swapping seeds."
    assert article.canonical_url == WORDPRESS_URL
    assert article.text.startswith("It began with a shoebox of paper envelopes")
    assert article.text.endswith("because the cabinet always holds a second chance.")
    for boilerplate in ("Proudly powered", "Recent posts", "Composting", "Lovely idea", "Contact"):
        assert boilerplate not in article.text
    collapsed = " ".join(article.text.split())
    assert article.text_hash == hashlib.sha256(collapsed.encode()).hexdigest()


def test_wordpress_full_mode_gives_the_same_article() -> None:
    assert extract_article(WORDPRESS, WORDPRESS_URL, fast=False) == extract_article(WORDPRESS, WORDPRESS_URL)


def test_bytes_input_equals_str_input() -> None:
    assert extract_article(WORDPRESS.encode(), WORDPRESS_URL) == extract_article(WORDPRESS, WORDPRESS_URL)


def test_blogger_post() -> None:
    article = extract_article(BLOGGER, BLOGGER_URL)

    assert article.title == "The winter bird count"
    assert article.author == "Anna Lindqvist"
    assert article.published == "2016-12-23T08:30:00-08:00"
    assert article.canonical_url == BLOGGER_URL
    assert article.language is None  # no lang attribute, and trafilatura does not guess
    assert "forty-one species, including a kingfisher" in article.text
    assert "sixty years of counts" in article.text
    assert "Powered by Blogger" not in article.text


def test_canonical_link_to_another_url() -> None:
    article = extract_article(with_canonical(ORIGIN_URL), REPOST_URL)

    assert article.canonical_url == ORIGIN_URL


def test_relative_canonical_link_is_resolved() -> None:
    article = extract_article(with_canonical("/story/98765"), REPOST_URL)

    assert article.canonical_url == "https://aggregator.example/story/98765"


def test_canonical_link_when_og_url_is_the_page_itself() -> None:
    og_url = f'<meta property="og:url" content="{REPOST_URL}">'
    html = with_canonical(ORIGIN_URL).replace("</head>", og_url + "</head>")

    assert extract_article(html, REPOST_URL).canonical_url == ORIGIN_URL


def test_no_canonical_url() -> None:
    html = WORDPRESS.replace(f'<link rel="canonical" href="{WORDPRESS_URL}">', "")

    assert extract_article(html, REPOST_URL).canonical_url is None


def test_same_text_same_hash_whatever_the_page_around_it() -> None:
    repost = extract_article(with_canonical(ORIGIN_URL), REPOST_URL)

    assert repost.text_hash == extract_article(WORDPRESS, WORDPRESS_URL).text_hash
    assert text_hash("a  b\n\n c\t") == text_hash("a b c") != text_hash("a bc")


def test_german_page() -> None:
    article = extract_article(GERMAN, GERMAN_URL)

    assert article.language == "de"
    assert article.title == "Warum Stadtbäume im Sommer leiden"
    assert article.published == "2018-07-14T06:00:00+02:00"
    assert "\nStraßenbäume haben es schwer: Ihre Wurzeln finden unter dem Asphalt" in article.text
    assert "Impressum" not in article.text


def test_german_page_in_latin1_bytes_with_region_subtag() -> None:
    html = GERMAN.replace('lang="de"', 'lang="de-AT"').replace('charset="utf-8"', 'charset="iso-8859-1"')

    article = extract_article(html.encode("iso-8859-1"), GERMAN_URL)

    assert article.language == "de"
    assert article == extract_article(GERMAN, GERMAN_URL)


UNDATED_GERMAN = GERMAN.replace('<meta property="article:published_time" content="2018-07-14T06:00:00+02:00">', "")



def test_a_stated_time_is_kept_with_its_zone_and_a_time_without_one_is_only_a_day() -> None:
    # Copies made the day their origin appeared are ordered only by such times; a time
    # without a zone is the site's local time, which orders nothing.
    assert extract_article(GERMAN, GERMAN_URL).published == "2018-07-14T06:00:00+02:00"
    naive = GERMAN.replace("2018-07-14T06:00:00+02:00", "2018-07-14T06:00:00")
    assert extract_article(naive, GERMAN_URL).published == "2018-07-14"


def test_a_slug_starting_with_a_number_is_not_a_day() -> None:
    """A German anniversary piece: ``/2019/03/15-jahre-...`` was read as 2019-03-15."""
    url = "https://zeitung.example/2019/03/15-jahre-stadtbaeume/"

    assert extract_article(UNDATED_GERMAN, url).published is None
    assert extract_article(GERMAN, url).published == "2018-07-14T06:00:00+02:00"  # what the page states


def test_a_canonical_on_another_site_does_not_date_the_page() -> None:
    """A blog copy took the date in its cross-site canonical's URL as its own."""
    canonical = '<link rel="canonical" href="https://origin.example/2016/11/02/stadtbaeume/">'
    html = UNDATED_GERMAN.replace("</head>", canonical + "</head>")

    article = extract_article(html, "https://blog.example/stadtbaeume/")

    assert article.canonical_url == "https://origin.example/2016/11/02/stadtbaeume/"
    assert article.published is None


@pytest.mark.parametrize(
    "meta",
    [
        '<meta property="og:image" content="https://zeitung.example/uploads/2019/03/15-jahre.jpg">',
        '<meta name="og:url" content="https://zeitung.example/2019/03/15/stadtbaeume/">',
    ],
    ids=["og-image", "og-url-as-name"],
)
def test_urls_in_meta_elements_do_not_date_the_page(meta: str) -> None:
    html = UNDATED_GERMAN.replace("</head>", meta + "</head>")

    assert extract_article(html, GERMAN_URL).published is None


def test_a_dated_url_does_not_hide_the_dates_in_the_markup() -> None:
    """WordPress: the path says the day, the page says it too; the page's (original) date counts."""
    url = "https://janedoe.example/2014/01/05/seed-library/"

    assert extract_article(with_canonical(url), url).published == "2016-11-02T09:15:00+00:00"


# A Blogger template with class names of its own, and the usual sidebar widgets (archive,
# popular posts, labels): trafilatura's fast mode knows none of its containers and takes
# the page whole, widgets and all.
_MONTHS = "January February March April May June July August September October November December".split()
BLOGGER_SIDEBAR = "<div class='sidebar section' id='sidebar-right-1'>" + (
    "<div class='widget BlogArchive'><h2>Blog Archive</h2><ul class='hierarchy'>"
    + "".join(f"<li><a href='/2016/{n:02d}/'>{month}</a> <span>(4)</span></li>" for n, month in enumerate(_MONTHS, 1))
    + "</ul></div><div class='widget PopularPosts'><h2>Popular Posts</h2><ul>"
    + "".join(f"<li><a href='/2016/{n:02d}/post.html'>A long title of an older post about birds, number {n}</a></li>" for n in range(1, 25))
    + "</ul></div><div class='widget Label'><h2>Labels</h2><ul>"
    + "".join(f"<li><a href='/search/label/{label}'>{label}</a></li>" for label in "birds river winter heron owl swan".split())
    + "</ul></div></div>"
)
CUSTOM_BLOGGER = (
    BLOGGER.replace("post-body entry-content", "nfy-text")
    .replace("post hentry uncustomized-post-template", "item")
    .replace("blog-posts hfeed", "posts")
    .replace("post-outer", "po").replace("date-outer", "do").replace("date-posts", "dp").replace("main-outer", "mo")
    .replace("<div class='footer-outer'>", BLOGGER_SIDEBAR + "<div class='footer-outer'>")
)


def test_a_template_whose_widgets_fast_mode_swallows_is_extracted_again_in_full() -> None:
    assert "Popular Posts" in trafilatura.bare_extraction(CUSTOM_BLOGGER, url=BLOGGER_URL, fast=True).text

    article = extract_article(CUSTOM_BLOGGER, BLOGGER_URL)

    assert article.retried is not None and "link text" in article.retried
    assert article.text == extract_article(BLOGGER, BLOGGER_URL).text  # the post alone
    assert article.summary()["retried"] == article.retried
    assert extract_article(CUSTOM_BLOGGER, BLOGGER_URL, fast=False).retried is None  # full mode is not judged


@pytest.mark.parametrize(("html", "url"), [(WORDPRESS, WORDPRESS_URL), (BLOGGER, BLOGGER_URL), (GERMAN, GERMAN_URL)])
def test_ordinary_pages_are_not_extracted_twice(html: str, url: str) -> None:
    assert extract_article(html, url).retried is None


SENTENCE = "The council met on Tuesday and agreed to keep the ferry running through the winter. "


def page(body: str, head: str = "") -> object:
    return trafilatura.load_html(f"<html><head>{head}</head><body>{body}</body></html>")


def test_one_long_line_is_implausible() -> None:
    """Title, byline, body and credit run together: one line of a whole article."""
    run_together = "Ferry to run all winter By Ann Berg " + SENTENCE * 30 + " Photo: Ann Berg"

    assert implausible(run_together, page(f"<p>{run_together}</p>")) == f"one line of {len(run_together)} characters"
    assert implausible("\n".join([SENTENCE * 10] * 3), page("<p>x</p>")) is None


def test_text_that_is_mostly_the_pages_link_text_is_implausible() -> None:
    menu = ["Home", "Politics", "Local news from the harbour district", "Sport results of the weekend", "Weather",
            "Culture", "Business news from the region", "Contact the newsroom"]
    links = "".join(f"<a href='/{n}'>{label}</a>" for n, label in enumerate(menu))

    assert implausible("\n".join([*menu, SENTENCE]), page(f"<nav>{links}</nav><p>{SENTENCE}</p>")) is not None
    assert implausible("\n".join([*menu, SENTENCE * 2]), page(f"<nav>{links}</nav><p>{SENTENCE}</p>")) is None


@pytest.mark.parametrize(
    "declared",
    [
        f"<div itemprop='articleBody'><p>{SENTENCE * 3}</p></div>",
        '<script type="application/ld+json">{"@type": "NewsArticle", "articleBody": "%s"}</script>' % (SENTENCE * 3),
    ],
    ids=["microdata", "json-ld"],
)
def test_text_far_longer_than_the_declared_body_is_implausible(declared: str) -> None:
    """A news site's menus and teasers taken with a short agency report its page declares."""
    long_text = "\n".join([SENTENCE] * 20)
    tree = page(declared + f"<div><p>{long_text}</p></div>")

    assert implausible(long_text, tree) == f"{len(long_text)} characters where the page declares a body of {len(SENTENCE * 3) - 1}"
    assert implausible("\n".join([SENTENCE] * 6), tree) is None


def test_several_declared_bodies_say_nothing() -> None:
    """Related-post cards, each with its excerpt marked as an article body."""
    cards = f"<div itemprop='articleBody'>{SENTENCE}</div>" * 3

    assert implausible("\n".join([SENTENCE] * 20), page(cards)) is None


def test_truncated_html_still_extracts() -> None:
    cut = WORDPRESS.index("which is exactly how")
    article = extract_article(WORDPRESS[:cut], WORDPRESS_URL)

    assert article.title == "How We Started a Seed Library"
    assert article.published == "2016-11-02T09:15:00+00:00"
    assert "Within a month the shoebox had become a cabinet." in article.text
    assert "second chance" not in article.text


def test_unclosed_tags_still_extract() -> None:
    broken = WORDPRESS.replace("</p>", "").replace("</div>", "").replace("</article>", "")

    article = extract_article(broken, WORDPRESS_URL)

    assert "Within a month the shoebox had become a cabinet." in article.text
    assert "which is exactly how a seed library keeps going." in article.text


@pytest.mark.parametrize(
    "html",
    ["", "<html><body></body></html>", BOILERPLATE_ONLY],
    ids=["empty", "empty-body", "boilerplate-only"],
)
def test_page_without_article_raises(html: str) -> None:
    with pytest.raises(ExtractionError, match=r"^https://shop\.example/: "):
        extract_article(html, "https://shop.example/")


def test_oversized_input_raises() -> None:
    with pytest.raises(ExtractionError, match=r"too large to extract \(\d+ bytes, limit 2000\)"):
        extract_article(WORDPRESS, WORDPRESS_URL, max_bytes=2000)


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    html = GERMAN + "<!--" + "ü" * 3000 + "-->"
    limit = len(html) + 100  # enough characters, too few bytes

    with pytest.raises(ExtractionError, match="too large"):
        extract_article(html, GERMAN_URL, max_bytes=limit)
    assert extract_article(html.encode(), GERMAN_URL, max_bytes=len(html.encode())).language == "de"


def test_a_body_as_fetched_is_decoded_as_the_crawler_decodes_it() -> None:
    headers = [("Content-Type", "text/html; charset=ISO-8859-1"), ("Content-Encoding", "gzip")]
    body = HttpBody(headers, gzip.compress(GERMAN.encode("latin-1", "xmlcharrefreplace")))

    assert extract_article(body, GERMAN_URL) == extract_article(GERMAN, GERMAN_URL)


def test_a_body_that_cannot_be_decoded_is_an_extraction_error() -> None:
    corrupt = HttpBody([("Content-Encoding", "gzip")], b"\x1f\x8b not gzip at all")

    with pytest.raises(ExtractionError, match=r"^https://corrupt\.example/: corrupt gzip body"):
        extract_article(corrupt, "https://corrupt.example/")


def test_summary_is_small_and_json_able() -> None:
    article = extract_article(WORDPRESS, WORDPRESS_URL)

    assert json.loads(json.dumps(article.summary())) == {
        "title": "How We Started a Seed Library",
        "author": "Jane Doe",
        "published": "2016-11-02T09:15:00+00:00",
        "language": "en",
        "chars": len(article.text),
        "text_hash": article.text_hash,
        "retried": None,
    }


# -- ExtractorPool -----------------------------------------------------------------------------


def test_pool_results_equal_direct_extraction() -> None:
    fetched = HttpBody([("Content-Type", "text/html; charset=utf-8")], GERMAN.encode())
    pages = [(WORDPRESS, WORDPRESS_URL), (BLOGGER.encode(), BLOGGER_URL), (fetched, GERMAN_URL)]
    with ExtractorPool(workers=2, timeout=20) as pool:
        futures = [pool.submit(html, url) for html, url in pages]
        results = [future.result(timeout=20) for future in futures]

    assert results == [extract_article(html, url) for html, url in pages]


def test_pool_passes_extraction_failures_through() -> None:
    with ExtractorPool(workers=1, timeout=20) as pool:
        future = pool.submit(BOILERPLATE_ONLY, "https://shop.example/")

        with pytest.raises(ExtractionError, match=r"^https://shop\.example/: no main text found"):
            future.result(timeout=20)


def test_pool_rejects_oversized_page_without_a_worker() -> None:
    with ExtractorPool(workers=1, max_bytes=2000) as pool:
        future = pool.submit(WORDPRESS, WORDPRESS_URL)

        assert future.done()
        with pytest.raises(ExtractionError, match="too large"):
            future.result()


def test_pool_reports_a_hanging_page_and_goes_on() -> None:
    with ExtractorPool(workers=1, timeout=1, function=flaky_extract) as pool:
        hanging = pool.submit(WORDPRESS, "https://hang.example/")
        after = pool.submit(GERMAN, GERMAN_URL)

        timed_out = r"^https://hang\.example/: extraction timed out after 1 s$"
        with pytest.raises(ExtractionError, match=timed_out):
            hanging.result(timeout=15)
        assert after.result(timeout=15) == extract_article(GERMAN, GERMAN_URL)


@pytest.mark.parametrize(
    ("url", "reason"),
    [("https://exit.example/", "exit code 3"), ("https://kill.example/", "signal SIGKILL")],
)
def test_pool_reports_a_dead_worker_and_goes_on(url: str, reason: str) -> None:
    with ExtractorPool(workers=1, timeout=20, function=flaky_extract) as pool:
        dying = pool.submit(WORDPRESS, url)
        after = pool.submit(GERMAN, GERMAN_URL)

        with pytest.raises(ExtractionError) as caught:
            dying.result(timeout=15)
        assert str(caught.value) == f"{url}: extractor process died ({reason})"
        assert after.result(timeout=15) == extract_article(GERMAN, GERMAN_URL)


def test_pool_wraps_other_errors_of_the_function() -> None:
    with ExtractorPool(workers=1, timeout=20, function=flaky_extract) as pool:
        future = pool.submit(WORDPRESS, "https://raise.example/")

        with pytest.raises(ExtractionError, match=r"^https://raise\.example/: extractor failed: ValueError"):
            future.result(timeout=15)


def test_cancelling_a_running_task_frees_its_worker() -> None:
    with ExtractorPool(workers=1, timeout=600, function=flaky_extract) as pool:
        hanging = pool.submit(WORDPRESS, "https://hang.example/")
        time.sleep(0.3)  # let the worker start it
        assert hanging.cancel()
        after = pool.submit(GERMAN, GERMAN_URL)

        assert after.result(timeout=10).language == "de"  # the hung worker was killed, not waited for
        assert hanging.cancelled()


def test_pages_of_one_task_get_their_own_outcomes() -> None:
    pages = [(WORDPRESS, WORDPRESS_URL), (BOILERPLATE_ONLY, "https://shop.example/"), (GERMAN, "https://raise.example/")]
    with ExtractorPool(workers=1, timeout=20, pages_per_task=3, function=flaky_extract) as pool:
        article, boilerplate, failing = pool.submit_many(pages)

        assert article.result(timeout=15) == extract_article(WORDPRESS, WORDPRESS_URL)
        with pytest.raises(ExtractionError, match=r"^https://shop\.example/: no main text found"):
            boilerplate.result(timeout=15)
        with pytest.raises(ExtractionError, match=r"^https://raise\.example/: extractor failed: ValueError"):
            failing.result(timeout=15)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://hang.example/", r"^https://hang\.example/: extraction timed out after 1 s$"),
        ("https://kill.example/", r"^https://kill\.example/: extractor process died \(signal SIGKILL\)$"),
    ],
)
def test_a_task_that_hangs_or_dies_is_retried_page_by_page(url: str, error: str) -> None:
    """Only the page that hangs or kills its worker fails, not the others sent with it."""
    pages = [(GERMAN, GERMAN_URL), (WORDPRESS, url), (WORDPRESS, WORDPRESS_URL)]
    with ExtractorPool(workers=2, timeout=1, pages_per_task=3, function=flaky_extract) as pool:
        german, bad, wordpress = pool.submit_many(pages)

        with pytest.raises(ExtractionError, match=error):
            bad.result(timeout=15)
        assert german.result(timeout=15) == extract_article(GERMAN, GERMAN_URL)
        assert wordpress.result(timeout=15) == extract_article(WORDPRESS, WORDPRESS_URL)


def test_cancelling_one_page_of_a_task_keeps_the_others() -> None:
    with ExtractorPool(workers=1, timeout=20, pages_per_task=2, function=flaky_extract) as pool:
        dropped, kept = pool.submit_many([(WORDPRESS, WORDPRESS_URL), (GERMAN, GERMAN_URL)])
        assert dropped.cancel()

        assert kept.result(timeout=15) == extract_article(GERMAN, GERMAN_URL)
        assert dropped.cancelled()


def test_pool_futures_work_with_asyncio() -> None:
    async def extract_two(pool: ExtractorPool) -> tuple[ExtractedArticle, BaseException | ExtractedArticle]:
        good = asyncio.wrap_future(pool.submit(GERMAN, GERMAN_URL))
        bad = asyncio.wrap_future(pool.submit(BOILERPLATE_ONLY, "https://shop.example/"))
        first, second = await asyncio.gather(good, bad, return_exceptions=True)
        assert isinstance(first, ExtractedArticle)
        return first, second

    with ExtractorPool(workers=2, timeout=20) as pool:
        article, error = asyncio.run(asyncio.wait_for(extract_two(pool), timeout=20))

    assert article.language == "de"
    assert isinstance(error, ExtractionError)


def test_close_with_cancel_drops_queued_pages() -> None:
    pool = ExtractorPool(workers=1, timeout=600, function=flaky_extract)
    running = pool.submit(WORDPRESS, "https://hang.example/")
    queued = pool.submit(GERMAN, GERMAN_URL)
    time.sleep(0.3)

    started = time.monotonic()
    pool.close(cancel=True)

    assert time.monotonic() - started < 10
    assert queued.cancelled()
    assert running.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(GERMAN, GERMAN_URL)


@pytest.fixture
def writer_logging() -> Iterator[multiprocessing.connection.Connection]:
    """Logging as the crawl's archive writer sets it up (archive.ingest.service.main): the root logger
    sends records to the crawl process on a pipe, and every forked child closes that pipe.

    Yields the crawl process's end of the pipe.
    """
    crawl_end, writer_end = multiprocessing.Pipe(duplex=False)
    forking = [True]  # os.register_at_fork cannot be undone: the hook stops acting after the test
    fd = writer_end.fileno()
    os.register_at_fork(after_in_child=lambda: forking[0] and os.close(fd))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [_ReportHandler(writer_end.send)]
    root.setLevel(logging.INFO)
    try:
        yield crawl_end
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        forking[0] = False
        writer_end.close()
        crawl_end.close()


def test_a_warning_logged_in_a_worker_reaches_the_crawl_and_the_page_extracts(
    writer_logging: multiprocessing.connection.Connection,
) -> None:
    """#17.6: trafilatura warns about a JSON-LD block that is a bare list; the worker logged it
    through the writer's handler, whose pipe the fork had closed, and the page failed with
    OSError(9, 'Bad file descriptor') in a crawl while it extracted in ``import``."""
    html = WORDPRESS.replace("</head>", '<script type="application/ld+json">[1,2]</script></head>')

    with ExtractorPool(workers=1, timeout=20) as pool:
        article = pool.submit(html, WORDPRESS_URL).result(timeout=20)

    assert article.title == "How We Started a Seed Library"
    assert article.published == "2016-11-02T09:15:00+00:00"
    assert writer_logging.poll(5)
    kind, name, level, message = writer_logging.recv()
    assert (kind, name, level) == ("log", "trafilatura.metadata", logging.WARNING)
    assert message.startswith("error in JSON metadata extraction")


POOL_UNDER_SIGTERM = """
import signal, sys
[signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)]  # as the archive writer starts
from archive.ingest.extract import ExtractorPool
from tests.test_archive_extract import GERMAN, GERMAN_URL
with ExtractorPool(workers=2, timeout=20) as pool:
    print(pool.submit(GERMAN, GERMAN_URL).result(timeout=20).language, flush=True)
    sys.stdin.readline()
    print(*(f.result(timeout=20).language for f in pool.submit_many([(GERMAN, GERMAN_URL)] * 8)), flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_signal_to_the_process_group_leaves_the_workers_to_the_writer(signum: int) -> None:
    """`timeout`, systemd and a terminal signal the crawl's whole process group. The archive
    writer ignores them and finishes what was sent; its workers must too: pebble's workers exit on
    SIGTERM, and the writer then failed with "Unexpected error within the Pool", leaving its WARCs
    '.open'."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-c", POOL_UNDER_SIGTERM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    assert process.stdout.readline() == "de\n"
    os.killpg(process.pid, signum)
    time.sleep(0.5)
    out, err = process.communicate("go on\n", timeout=60)
    assert (process.returncode, out) == (0, " ".join(["de"] * 8) + "\n"), err


def test_a_worker_killed_while_idle_does_not_stop_extraction() -> None:
    """pebble gives up on its whole pool when a worker dies idle ("Unexpected error within the
    Pool"): what the OOM killer does, or systemd's SIGTERM to every process of a unit. The
    pool is replaced and pages go on being extracted."""
    with ExtractorPool(workers=2, timeout=20) as pool:
        assert pool.submit(GERMAN, GERMAN_URL).result(timeout=20).language == "de"
        workers = [int(pid) for pid in open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()]
        assert len(workers) == 2
        for pid in workers:
            os.kill(pid, signal.SIGTERM)
        time.sleep(0.5)
        languages = [f.result(timeout=20).language for f in pool.submit_many([(GERMAN, GERMAN_URL)] * 8)]
    assert languages == ["de"] * 8
