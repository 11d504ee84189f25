"""Fuzzing extraction (#17): malformed pages are one ``ExtractionError`` line, never a traceback.

Generated pages go through ``extract_for_matching``, what the archive writer's extractor
workers run on each page: broken markup, NUL bytes, wrong or lying charsets, bytes invalid in
the declared charset, JSON-LD and dates that are garbage, corrupt content codings, odd URLs
(an imported WARC may hold any). The contract (``archive.ingest.extract``): a page that cannot
be extracted raises ``ExtractionError`` naming its URL, and an article that is there, in a
page whose bytes say truthfully how to decode them, is extracted whatever surrounds it.
Pathological sizes (100,000 nested elements, pages that take trafilatura longer than its
timeout) go through the real ``ExtractorPool`` at the end.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from archive.errors import ExtractionError
from archive.ingest.extract import text_hash
from archive.ingest.extraction import extract_for_matching, extraction_pool
from archive.warc.http import HttpBody

#: The article every generated page carries; MARKER is looked for in what is extracted.
MARKER = "The ferry to Lindau leaves at nine every morning from the old harbour."
ARTICLE = [
    MARKER,
    "Passengers who miss it wait for the noon boat, which stops at Wasserburg and Nonnenhorn on the way.",
    "The harbour master said the timetable will not change this summer, although the café owners had asked.",
    "Tickets are sold on board; bicycles travel free of charge before ten o'clock, über den See.",
]
URLS = st.sampled_from(
    ["http://example.test/2020/01/02/ferry", "https://example.test/ferry?id=1", "http://[::1/x", "javascript:alert(1)",
     "", "http://example.test:99999/2021/13/45/", "http://bücher.example/ö", "http://example.test/\x00"]
)
DATES = st.sampled_from(
    ["0000-00-00", "9999-99-99", "9999-12-31", "2020-02-30", "1900-01-01", "99999999999999999999", "-1", "NaN",
     "2020-01-02T25:61:61Z", "2019-03-15", "", "\x00", "1e309", "2020-01-02" + "x" * 1000]
) | st.text(max_size=20)
JSON_LD = st.one_of(
    st.sampled_from(
        ["[1,2]", '{"@graph": 5}', '{"@graph": [5, null, {"datePublished": "9999-99-99"}]}', "{", "\x00", "1e999999",
         '{"@type": "NewsArticle", "datePublished": "0000-00-00", "author": 5, "articleBody": 7, "headline": []}',
         '{"@type": "Article", "author": {"name": {"name": 5}}, "publisher": [[]], "articleBody": ["x"]}',
         '{"articleBody": "short", "a": ' + "[" * 5000, "[" * 100_000, '{"@context": "http://schema.org", "@type": null}']
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | DATES,
        lambda children: st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["@type", "@graph", "datePublished", "author", "name", "articleBody",
                                           "headline", "dateModified"]), children, max_size=3),
        max_leaves=10,
    ).map(json.dumps),
)
CHARSETS = ["utf-8", "windows-1252", "iso-8859-1", "shift_jis", "koi8-r", "utf-16"]
BOGUS_CHARSETS = ["x-bogus-42", "", "utf-8\x00", "utf-7", "utf-32", "binary", "../../etc"]
TAG_NOISE = st.sampled_from(["<div>", "<span>", "<b>", "<font>", "<i>", "<section>", "</div>", "</p>", "<br>", "<p"])


@st.composite
def head_noise(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(["title", "date", "jsonld", "canonical", "ogurl", "meta", "nul"]), max_size=5))
    out = []
    for piece in pieces:
        if piece == "title":
            out.append(f"<title>{draw(st.text(max_size=30))}</title>")
        elif piece == "date":
            out.append(f'<meta property="article:published_time" content="{draw(DATES)}">')
        elif piece == "jsonld":
            out.append(f'<script type="application/ld+json">{draw(JSON_LD)}</script>')
        elif piece == "canonical":
            out.append(f'<link rel="canonical" href="{draw(URLS)}">')
        elif piece == "ogurl":
            out.append(f'<meta name="og:url" content="{draw(URLS)}">')
        elif piece == "meta":
            out.append(f'<meta name="{draw(st.sampled_from(["author", "description", "date"]))}" content="{draw(DATES)}">')
        else:
            out.append("<title>a\x00b</title>")
    return "".join(out)


@st.composite
def body_noise(draw: st.DrawFn) -> str:
    """Markup that must not hide an article next to it."""
    kind = draw(st.sampled_from(["tags", "text", "nul", "attribute", "time", "script", "none"]))
    if kind == "tags":
        return "".join(draw(st.lists(TAG_NOISE, max_size=40)))
    if kind == "text":
        return f"<p>{draw(st.text(max_size=40))}</p>"
    if kind == "nul":
        return "<p>\x00\x00</p>"
    if kind == "attribute":
        return f'<div data-x="{"x" * draw(st.integers(0, 200_000))}"></div>'
    if kind == "time":
        return f'<time datetime="{draw(DATES)}">{draw(DATES)}</time>'
    if kind == "script":
        return "<script>var a = '<p>';</script><style>p {}</style>"
    return ""


@st.composite
def pages(draw: st.DrawFn) -> tuple[Any, str, bool]:
    """A page (text, bytes or a fetched body), its URL, and whether it says truthfully how to decode it."""
    charset = draw(st.sampled_from(CHARSETS))
    declared = draw(st.sampled_from(["meta", "header", "none", "bogus", "lie"]))
    depth = draw(st.integers(0, 200))
    shape = draw(st.sampled_from(["article", "article", "article", "empty", "script-only", "fragment"]))
    meta_charset = {"meta": charset, "bogus": draw(st.sampled_from(BOGUS_CHARSETS)), "lie": "utf-16"}.get(declared)
    head = (f'<meta charset="{meta_charset}">' if meta_charset is not None else "") + draw(head_noise())
    article = "".join(f"<p>{sentence}</p>" for sentence in ARTICLE)
    body = {
        "article": draw(body_noise()) + "<div>" * depth + f"<article>{article}</article>" + "</div>" * depth
        + draw(body_noise()),
        "empty": "",
        "script-only": "<script>document.write('<p>" + MARKER + "</p>')</script>",
        "fragment": draw(body_noise()),
    }[shape]
    lang = draw(st.sampled_from(["en", "", "x" * 300, "de-AT", "\x00", "12"]))
    text = f'<!DOCTYPE html><html lang="{lang}"><head>{head}</head><body>{body}</body></html>'
    url = draw(URLS)
    form = draw(st.sampled_from(["str", "bytes", "body", "body-gzip", "body-corrupt"]))
    if form == "str":
        return text, url, declared != "bogus" and shape == "article"
    data = text.encode("utf-16" if charset == "utf-16" else charset, "xmlcharrefreplace")
    splice = draw(st.sampled_from([b"", b"", b"\xff\xfe\xc3", b"\x80\x81", b"\xe2\x82"]))
    at = data.index(b"<body>"[:1] if charset == "utf-16" else b"<body>")
    data = data[:at] + splice + data[at:]
    honest = shape == "article" and (declared == "meta" or charset == "utf-8" and declared == "none") and not (
        charset == "utf-16" and splice
    )
    if form == "bytes":
        return data, url, honest and declared != "header"
    headers = [("Content-Type", f"text/html; charset={charset if declared == 'header' else meta_charset or ''}")]
    honest = shape == "article" and declared in {"header", "meta"} and not (charset == "utf-16" and splice)
    if form == "body":
        return HttpBody(headers, data), url, honest
    compressed = gzip.compress(data)
    if form == "body-corrupt":
        compressed = compressed[: len(compressed) // 2] + b"\x00garbage"
    coding = draw(st.sampled_from(["gzip", "x-gzip", "gzip, identity"] if form == "body-gzip" else ["gzip", "compress"]))
    return HttpBody([*headers, ("Content-Encoding", coding)], compressed), url, honest and form == "body-gzip"


def _without_controls(value: str) -> bool:
    return "\x00" not in value and not any(0xD800 <= ord(c) < 0xE000 for c in value)


SLOWEST: list[float] = [0.0]


@settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(page=pages())
@example(page=('<html><head><link rel="canonical" href="http://[::1"></head><body><article>'
               + "".join(f"<p>{s}</p>" for s in ARTICLE) + "</article></body></html>", "http://example.test/", True))
@example(page=('<html><head><script type="application/ld+json">{"articleBody": "x", "a": ' + "[" * 5000
               + '</script></head><body><article>' + "".join(f"<p>{s}</p>" for s in ARTICLE)
               + "</article></body></html>", "http://example.test/", True))
@example(page=("<html><body>" + "<div>" * 100_000 + "".join(f"<p>{s}</p>" for s in ARTICLE), "http://example.test/",
               False))
def test_extraction_returns_an_article_or_one_error_line(page: tuple[Any, str, bool]) -> None:
    html, url, honest = page
    started = time.perf_counter()
    try:
        extraction = extract_for_matching(html, url)
    except ExtractionError as error:
        message = str(error)
        assert message.startswith(f"{url}: ") and "\n" not in message[len(url):], message
        assert not honest, f"the article was not extracted: {message}"
        event(f"error: {message[len(url) + 2:].split(':')[0].split('(')[0].strip()}")
        return
    finally:
        SLOWEST[0] = max(SLOWEST[0], time.perf_counter() - started)
        assert time.perf_counter() - started < 20, "one page took over 20 s"
    article = extraction.article
    assert len(article.text) >= 100 and article.text_hash == text_hash(article.text)
    for value in (article.text, article.title, article.author, article.canonical_url, article.language,
                  article.sitename, article.description):
        # PostgreSQL refuses NUL in text, and no database stores a lone surrogate.
        assert value is None or _without_controls(value), repr(value)
    if article.published is not None:  # a date, or a datetime with its offset
        published = datetime.fromisoformat(article.published)
        assert published.date() <= date.today() + timedelta(days=1), article.published
    event("extracted, honest" if honest else "extracted")
    if honest:
        assert MARKER in " ".join(article.text.split())


def test_slowest_page_of_the_fuzz_was_well_within_the_timeout() -> None:
    """The in-process fuzz keeps sizes that trafilatura handles far within the pool's 30 s."""
    if SLOWEST[0] == 0.0:
        pytest.skip("the fuzz did not run in this session")
    print(f"slowest fuzzed page: {SLOWEST[0]:.2f} s")
    assert SLOWEST[0] < 20


def test_page_nested_past_the_parser_limit_says_so() -> None:
    """libxml2 keeps 255 levels; an article below them is lost, and the reason says why."""
    html = "<html><body>" + "<div>" * 300 + "".join(f"<p>{s}</p>" for s in ARTICLE) + "</div>" * 300 + "</body></html>"
    with pytest.raises(ExtractionError) as error:
        extract_for_matching(html, "http://example.test/deep")
    assert str(error.value) == (
        "http://example.test/deep: no main text found (elements nested 255 deep, where the HTML parser stops)"
    )
    shallow = html.replace("<div>" * 300, "<div>" * 200).replace("</div>" * 300, "</div>" * 200)
    assert MARKER in extract_for_matching(shallow, "http://example.test/deep").article.text


def test_pool_fails_the_worst_pages_one_line_each_and_serves_the_next(caplog: pytest.LogCaptureFixture) -> None:
    """Through the writer's pool: 100,000 nested elements, a page over max_bytes, one that takes
    trafilatura past the timeout, and a good page queued after them, in one task."""
    article = "".join(f"<p>{sentence}</p>" for sentence in ARTICLE)
    worst = {
        "http://example.test/deep": "<html><body>" + "<div>" * 100_000 + article + "</div>" * 100_000 + "</body></html>",
        "http://example.test/huge": "<html><body>" + "x" * 3_000_001 + "</body></html>",
        "http://example.test/slow": "<html><body>"
        + "<div><p>word <a href='/x'>link</a> <b>bold</b> more text here</p></div>" * 40_000 + "</body></html>",
    }
    good = f"<html><body><article>{article}</article></body></html>"
    caplog.set_level(logging.WARNING, "archive.ingest.extract")
    with extraction_pool(1, 2.0, fast=True, max_bytes=3_000_000) as pool:
        futures = pool.submit_many([*((html, url) for url, html in worst.items()), (good, "http://example.test/good")])
        assert MARKER in futures[-1].result(timeout=60).article.text
        errors = {}
        for url, future in zip(worst, futures, strict=False):
            with pytest.raises(ExtractionError) as error:
                future.result(timeout=60)
            errors[url] = str(error.value)
    assert errors == {
        "http://example.test/deep": "http://example.test/deep: no main text found "
        "(elements nested 255 deep, where the HTML parser stops)",
        "http://example.test/huge": "http://example.test/huge: page too large to extract "
        "(3000027 bytes, limit 3000000)",
        "http://example.test/slow": "http://example.test/slow: extraction timed out after 2 s",
    }
    ours = [r.getMessage() for r in caplog.records if r.name == "archive.ingest.extract" and r.levelno >= logging.WARNING]
    assert ours == [errors["http://example.test/slow"]]
