"""The researcher's view in process, without a browser: every page's answer, its policy, its errors.

The archive: ``tests/test_serve.py``'s captures (raw pages of news.example) and
``tests/test_syndication_analytics.py``'s syndicated pages (the Courier's story, its copies on the
Digest and the Mirror, an excerpt).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote_to_bytes
from wsgiref.util import setup_testing_defaults

import pytest

from archive.db import catalog
from archive.db.engine import Database, sqlite_url
from archive.db.models import Syndication
from syndicrawl.web.views import POLICY, ViewApp
from tests.test_serve import PAGE, write_archive
from tests.test_syndication_analytics import _fill


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewApp]:
    data = tmp_path_factory.mktemp("view") / "data"
    data.mkdir()
    database = Database(sqlite_url(data))
    write_archive(database, data)
    _fill(database)
    yield ViewApp(database, data / "warcs")
    database.dispose()


def call(app: ViewApp, target: str, method: str = "GET") -> tuple[int, dict[str, str], str]:
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
                               "QUERY_STRING": query}
    setup_testing_defaults(environ)
    started: list[tuple[str, list[tuple[str, str]]]] = []
    body = b"".join(app(environ, lambda status, headers: started.append((status, headers))))
    [(status, headers)] = started
    return int(status[:3]), dict(headers), body.decode()


def escaped(url: str) -> str:
    return quote(url, safe="")


@pytest.mark.parametrize("target", ["/", "/search?q=text", "/article?url=http://courier.example/a",
                                    f"/snapshot?url={escaped(PAGE)}", "/analytics"])
def test_each_page_runs_no_script_and_loads_nothing_from_elsewhere(app: ViewApp, target: str) -> None:
    status, headers, body = call(app, target)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == POLICY and "script-src" not in POLICY
    assert "<script" not in body
    assert not re.search(r'(?:src|href)="(?!/|#|data:)', body), "a page links an asset off this origin"


def test_the_article_page_draws_the_chain_with_its_excerpt(app: ViewApp) -> None:
    status, _, body = call(app, "/article?url=http://digest.example/a")
    assert status == 200
    assert body.count("<circle ") == 4 and body.count('marker-end="url(#arrow)"') == 3  # origin, 2 copies, excerpt
    assert ">courier</text>" in body and ">digest</text>" in body and ">mirror</text>" in body
    assert '<a href="/article?url=http%3A//mirror.example/a">' in body


def test_the_snapshot_frames_the_raw_capture_sandboxed(app: ViewApp) -> None:
    status, _, body = call(app, f"/snapshot?url={escaped(PAGE)}&at=20240506")
    assert status == 200
    assert f'<iframe class="snapshot" sandbox="" src="/20240506070809id_/{PAGE}"' in body
    assert "as captured 2024-05-06 07:08:09 UTC" in body


def test_search_lists_pages_with_their_cluster_and_origin(app: ViewApp) -> None:
    status, _, body = call(app, "/search?q=text&source=mirror")
    assert status == 200
    assert "copy in a cluster of 3 · origin" in body and "<mark>text</mark>" in body


@pytest.mark.parametrize(("target", "status", "message"), [
    ("/search?q=%22", 400, "bad query '\"': a quote is not closed"),
    ("/search", 400, "give words to search for"),
    ("/search?q=text&since=2024-13-01", 400, "2024-13-01"),
    ("/search?q=text&source=nowhere", 404, "no source named 'nowhere'"),
    ("/article", 400, "a url= parameter is required"),
    ("/article?url=http://nowhere.example/", 404, "http://nowhere.example/: no extracted article"),
    ("/article?url=http://127.0.0.1:99999/", 400, "Port out of range"),
    (f"/snapshot?url={escaped(PAGE)}&at=tomorrow", 400, "tomorrow"),
    ("/static/../views.py", 404, "no static file"),
])
def test_bad_input_is_one_line_on_an_html_page(app: ViewApp, target: str, status: int, message: str) -> None:
    got, headers, body = call(app, target)
    assert (got, headers["Content-Type"]) == (status, "text/html; charset=utf-8")
    [line] = re.findall(r'<p class="error">(.*)</p>', body)
    assert message in html.unescape(line), line


def test_static_files_and_the_api_are_served_beside_the_pages(app: ViewApp) -> None:
    status, headers, body = call(app, "/static/style.css")
    assert (status, headers["Content-Type"]) == (200, "text/css; charset=utf-8") and "--accent" in body
    assert call(app, f"/cdx?url={escaped(PAGE)}&output=json")[0] == 200
    assert call(app, "/", method="POST")[0] == 405
    status, headers, body = call(app, "/search?q=text", method="HEAD")
    assert (status, body) == (200, "") and int(headers["Content-Length"]) > 1000


# --- the diff view: a copy beside its parent, two captures of one page ---------------------------

STORY = ("Officials in the capital said on Tuesday that the strike killed twelve people in the crowded market.\n"
         "Witnesses described chaos as ambulances arrived from three hospitals across the city.\n"
         "The ministry denied any role in the attack and promised an inquiry.\n")
#: What a repost site does to it: a byline on top, the casualty figure softened.
REPOST = "By Staff Writer\n" + STORY.replace("killed twelve", "hurt several")
T0 = datetime(2024, 3, 1, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def diffs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewApp]:
    """The Courier's story and the Digest's repost of it; the Courier's page b captured twice, a paragraph gone the second time."""
    data = tmp_path_factory.mktemp("diffs")
    database = Database(sqlite_url(data))
    pages = [("courier", "http://courier.example/a", T0, STORY), ("digest", "http://digest.example/a", T0, REPOST),
             ("courier", "http://courier.example/b", T0, STORY),
             ("courier", "http://courier.example/b", T0 + timedelta(days=1), STORY.rsplit("The ministry", 1)[0])]
    with database.session() as s, s.begin():
        ids = []
        for n, (site, url, when, text) in enumerate(pages):
            source = catalog.ensure_source(s, site, "origin" if site == "courier" else "repost")
            capture = catalog.add_capture(s, source_id=source.id, url=url, timestamp=when, status=200, mime="text/html",
                                          warc_file="none.warc.gz", warc_offset=n, warc_length=1,
                                          record_id=f"<urn:uuid:{n}>", payload_digest=f"sha1:{n}")
            ids.append(catalog.add_article(s, capture_id=capture.id, url=url, title="Strike", text=text).id)
        s.add(Syndication(article_id=ids[0], cluster_id=ids[0], relation="origin", origin_id=ids[0]))
        s.add(Syndication(article_id=ids[1], cluster_id=ids[0], relation="copy", parent_id=ids[0], origin_id=ids[0],
                          similarity=0.9))
    yield ViewApp(database, data / "warcs")
    database.dispose()


def test_the_diff_shows_a_copy_beside_its_parent_with_its_edits_marked(diffs: ViewApp) -> None:
    status, headers, body = call(diffs, "/diff?url=http://digest.example/a")
    assert status == 200 and headers["Content-Security-Policy"] == POLICY and "<script" not in body
    assert "parent · http://courier.example/a" in body and "copy · http://digest.example/a" in body
    assert "header 1, rewritten 1" in body
    assert '<del class="rewritten" title="rewritten">killed twelve</del>' in body
    assert '<ins class="rewritten" title="rewritten">hurt several</ins>' in body
    assert '<li id="c1" class="edited header"><span class="kind">header</span> By Staff Writer</li>' in body
    assert '<a href="#p1">line 1</a> → <a href="#c2">2</a>' in body  # the rewrite, linked to its lines


def test_the_diff_of_two_captures_shows_what_the_page_dropped(diffs: ViewApp) -> None:
    status, _, body = call(diffs, "/diff?url=http://courier.example/b&from=20240301080000&to=20240302")
    assert status == 200
    assert "earlier capture · http://courier.example/b" in body and "paragraph dropped 1" in body
    assert '<li id="p3" class="edited paragraph_dropped"><span class="kind">paragraph dropped</span> The ministry' in body


def test_the_article_page_links_each_copy_and_each_later_capture_to_its_diff(diffs: ViewApp) -> None:
    body = call(diffs, "/article?url=http://courier.example/a")[2]
    assert '<a href="/diff?url=http%3A//digest.example/a">what it changed</a>' in body
    assert body.count("what it changed") == 1  # the origin changed nothing
    body = call(diffs, "/article?url=http://courier.example/b")[2]
    assert ('<a href="/diff?url=http%3A//courier.example/b&amp;from=20240301080000&amp;to=20240302080000">'
            "what changed since 2024-03-01 08:00</a>") in body


@pytest.mark.parametrize(("target", "status", "message"), [
    ("/diff?url=http://courier.example/a", 404, "http://courier.example/a: no parent (it is origin)"),
    ("/diff?url=http://digest.example/a&against=origin&from=2024", 400, "give against= or from= and to=, not both"),
    ("/diff?url=http://courier.example/b&to=2024", 400, "to=: give from= too"),
    ("/diff?url=http://courier.example/b&from=yesterday", 400, "bad timestamp 'yesterday'"),
    ("/diff?url=http://digest.example/a&against=http://nowhere.example/", 404, "http://nowhere.example/: no capture"),
])
def test_a_bad_diff_is_one_line_on_an_html_page(diffs: ViewApp, target: str, status: int, message: str) -> None:
    got, _, body = call(diffs, target)
    [line] = re.findall(r'<p class="error">(.*)</p>', body)
    assert (got, message in html.unescape(line)) == (status, True), line
