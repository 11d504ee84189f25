"""The researcher's view in process, without a browser: every page's answer, its policy, its errors.

The archive: ``tests/test_serve.py``'s captures (raw pages of news.example) and
``tests/test_syndication_analytics.py``'s syndicated pages (the Courier's story, its copies on the
Digest and the Mirror, an excerpt).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote_to_bytes
from wsgiref.util import setup_testing_defaults

import pytest

from archive.db.engine import Database, sqlite_url
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
