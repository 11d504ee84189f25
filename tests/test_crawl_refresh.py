"""The meta-refresh pre-check: Scrapy's middleware may be skipped only where it would find nothing."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.response import get_meta_refresh

from crawler.refresh import HEAD_BYTES, may_refresh

FILLER = "<p>" + "Aleppo siege report, words and more words. " * 40 + "</p>\n"

HEADS = {
    "plain": '<meta http-equiv="refresh" content="0; url=/moved-here/">',
    "upper case": '<META HTTP-EQUIV="REFRESH" CONTENT="0;URL=/moved-here/">',
    "single quotes, no delay": "<meta content='0;url=/moved-here/' http-equiv='Refresh'>",
    "content type only": '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">',
    "none": '<meta name="author" content="Stephen Lendman">',
}


def page(head: str, *, filler: int = 1, encoding: str = "utf-8") -> HtmlResponse:
    html = f"<html><head><title>Aleppo &amp; more</title>{head}</head><body>{FILLER * filler}</body></html>"
    return HtmlResponse(
        "http://127.0.0.1/article/", body=html.encode(encoding), encoding=encoding,
        request=Request("http://127.0.0.1/article/"),
    )  # fmt: skip


@pytest.mark.parametrize("name", HEADS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32", "cp1252"])
def test_a_page_is_passed_over_only_when_scrapy_finds_no_refresh_in_it(name: str, encoding: str) -> None:
    response = page(HEADS[name], encoding=encoding)
    _, url = get_meta_refresh(response)
    assert (url is not None) == (name not in {"content type only", "none"})
    if url is not None:
        assert may_refresh(response.body[:HEAD_BYTES]), f"{name} ({encoding}): refresh to {url} would be missed"


def test_ordinary_pages_skip_scrapys_scan() -> None:
    # The point of the check: most pages have no refresh, and are not decoded for it.
    for name in ("content type only", "none"):
        assert not may_refresh(page(HEADS[name]).body[:HEAD_BYTES]), name


def test_only_the_head_is_searched_as_scrapy_reads_only_the_head() -> None:
    response = page("", filler=10)
    late = response.replace(body=response.body.replace(b"</body>", HEADS["plain"].encode() + b"</body>"))
    assert len(late.body) > HEAD_BYTES
    assert not may_refresh(late.body[:HEAD_BYTES])
    assert get_meta_refresh(late) == (None, None)
