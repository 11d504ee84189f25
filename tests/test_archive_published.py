"""An article's publication date and its source: the page, then its feed or sitemap entry, its
URL's path and its Last-Modified header, in that order (``archive.ingest.store._published``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive.db.engine import Database
from archive.db.models import Article
from archive.ingest.extraction import extract_for_matching
from archive.ingest.messages import Fetched
from archive.ingest.store import CaptureStore, Extracted
from tests.test_archive_extract import GERMAN, UNDATED_GERMAN

DAY_ONLY_GERMAN = GERMAN.replace("2018-07-14T06:00:00+02:00", "2018-07-14")  # a theme that prints the day
from tests.test_archive_warc import exchange

LAST_MODIFIED = "Fri, 20 May 2022 17:42:10 GMT"  # the page was edited long after it appeared


def stored_date(database: Database, tmp_path: Path, url: str, html: str, evidence: dict[str, Any]) -> tuple[str | None, str | None]:
    """Store ``html`` as captured from ``url`` and extracted, with ``evidence``; its row's date and source."""
    store = CaptureStore(database, tmp_path / "warcs", "zeitung", "origin", max_size=10_000_000, software="test")
    [capture] = store.store_exchanges([Fetched(replace(exchange(url), body=html.encode()), metadata={}, extract=True)])
    store.store_articles([Extracted(capture, extract_for_matching(html, url), None, {}, evidence)])
    store.finish("finished", {})
    with database.session() as s:
        row = s.scalars(select(Article).where(Article.capture_id == capture.id)).one()
        return row.published, row.published_source


@pytest.mark.parametrize(
    ("url", "html", "evidence", "expected"),
    [
        pytest.param(
            "https://zeitung.example/2014/01/05/stadtbaeume/", GERMAN,
            {"via": "feed", "published": "2018-07-15T06:00:00+00:00", "last_modified": LAST_MODIFIED},
            ("2018-07-14T06:00:00+02:00", "page"), id="the-page-first",
        ),
        pytest.param(  # WordPress themes print the day, their feeds the minute
            "https://zeitung.example/2014/01/05/stadtbaeume/", DAY_ONLY_GERMAN,
            {"via": "feed", "published": "2018-07-14T06:30:00+02:00"},
            ("2018-07-14T04:30:00+00:00", "page"), id="the-page-day-to-its-feed-entry-minute",
        ),
        pytest.param(  # a zone's offset put the entry on the next day in UTC: the page's day stands
            "https://zeitung.example/2014/01/05/stadtbaeume/", DAY_ONLY_GERMAN,
            {"via": "feed", "published": "2018-07-15T01:30:00+00:00"},
            ("2018-07-14", "page"), id="a-feed-minute-of-another-day-leaves-the-pages-day",
        ),
        pytest.param(
            "https://zeitung.example/2014/01/05/stadtbaeume/", UNDATED_GERMAN,
            {"via": "feed", "published": "2018-07-15T06:00:00+00:00"},
            ("2018-07-15T06:00:00+00:00", "feed"), id="then-the-feed-entry",
        ),
        pytest.param(
            "https://zeitung.example/2018/07/14/stadtbaeume/", UNDATED_GERMAN,
            {"via": "sitemap", "updated": "2022-05-20T17:42:10+00:00", "last_modified": LAST_MODIFIED},
            ("2018-07-14", "url"), id="a-dated-path-before-a-lastmod",  # WordPress: lastmod is the last edit
        ),
        pytest.param(
            "https://blog.example/2018/07/stadtbaeume.html", UNDATED_GERMAN,
            {"via": "sitemap", "updated": "2018-07-14T06:00:00+00:00"},
            ("2018-07-14T06:00:00+00:00", "sitemap"), id="a-lastmod-in-the-paths-month",  # Blogger: /YYYY/MM/
        ),
        pytest.param(
            "https://blog.example/2018/07/stadtbaeume.html", UNDATED_GERMAN,
            {"via": "sitemap", "updated": "2022-05-20T17:42:10+00:00"},
            ("2018-07", "url"), id="a-later-lastmod-gives-way-to-the-paths-month",
        ),
        pytest.param(
            "https://zeitung.example/2019/03/15-jahre-stadtbaeume/", UNDATED_GERMAN, {},
            ("2019-03", "url"), id="whole-segments-only",  # not the 15th
        ),
        pytest.param(
            "https://blog.example/stadtbaeume/", UNDATED_GERMAN, {"via": "sitemap", "updated": "2018-07-14"},
            ("2018-07-14", "sitemap"), id="a-lastmod-without-a-dated-path",
        ),
        pytest.param(
            "https://zeitung.example/2018/07/14/stadtbaeume/", UNDATED_GERMAN, {"last_modified": LAST_MODIFIED},
            ("2018-07-14", "url"), id="last-modified-after-the-path",
        ),
        pytest.param(
            "https://zeitung.example/stadtbaeume/", UNDATED_GERMAN, {"last_modified": LAST_MODIFIED},
            ("2022-05-20T17:42:10+00:00", "last-modified"), id="last-modified-when-nothing-else",
        ),
        pytest.param(  # past year 9999 in UTC: no date, and the page is still stored
            "https://zeitung.example/stadtbaeume/", UNDATED_GERMAN, {"last_modified": "Fri, 31 Dec 9999 23:59:59 -1400"},
            (None, None), id="a-last-modified-past-the-calendar",
        ),
        pytest.param(
            "https://zeitung.example/stadtbaeume/", UNDATED_GERMAN,
            {"via": "sitemap", "updated": "not a date", "last_modified": "yesterday"},
            (None, None), id="unreadable-dates-are-no-dates",
        ),
    ],
)
def test_the_best_evidence_dates_the_article(
    database: Database, tmp_path: Path, url: str, html: str, evidence: dict[str, Any], expected: tuple[str | None, str | None]
) -> None:
    assert stored_date(database, tmp_path, url, html, evidence) == expected
