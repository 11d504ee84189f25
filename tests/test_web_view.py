"""The researcher's view of ``syndicrawl serve``, in headless Chromium, on the demo archive.

A researcher searches, opens an article, reads what its copy changed (the diff view), follows the
chain to the origin and opens a snapshot; each page is
screenshotted into build/screenshots/ (kept as artifacts; the README shows them). An archived page
whose script reads cookies and calls the API is shown, framed and raw, and the server sees no
request from it, where the same page served unsandboxed (the control) leaks at once. axe-core
(fetched into build/axe-core/ by ``make install``) finds no WCAG 2 A/AA violation on any page.

Chromium is driven over the DevTools protocol on a pipe, as in tests/test_wacz_browser.py (whose
``DevTools`` this reuses): no WebDriver to install. The view runs in this process under waitress,
behind a recorder of every request it answers. Skips without Chromium, fails under CI=true.
"""

from __future__ import annotations

import base64
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import waitress

from archive.db.engine import Database, sqlite_url
from archive.ingest.messages import Fetched
from archive.ingest.store import CaptureStore
from syndicrawl.web.views import ViewApp
from tests.fixtures.cli import run_syndicrawl
from tests.test_archive_warc import exchange
from tests.test_wacz_browser import TIMEOUT, DevTools, _missing

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"
AXE = ROOT / "build" / "axe-core" / "axe.min.js"
HOSTILE_URL = "http://hostile.example/story"
#: What an archived page's script would do with the archive's origin: read its cookies, call its
#: API, and report both to the server; and reach into the page that frames it.
HOSTILE_PAGE = b"""<!doctype html><html><head><title>A hostile page</title></head><body>
<h1>A hostile page</h1><p>Its script tries to read the archive's cookies and call its API.</p>
<script>
var seen = encodeURIComponent(document.cookie);
fetch("/api/article?url=http://127.0.0.1:1/&leak=" + seen).then(function (r) { return r.text(); })
  .then(function (t) { new Image().src = "/leak/api?" + encodeURIComponent(t.slice(0, 40)); });
new Image().src = "/leak/cookie?" + seen;
try { top.document.title = "leak"; new Image().src = "/leak/top"; } catch (e) {}
</script></body></html>"""
COOKIE = "session=archive-secret"
ORIGIN_TITLE = "US-Supported Terrorists Fail to Break Aleppo Siege"


@dataclass
class Recorder:
    """The view, recording each request's path and query; ``/control`` serves the hostile page unsandboxed."""

    app: ViewApp
    requests: list[str] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        query = environ.get("QUERY_STRING")
        self.requests.append(environ.get("PATH_INFO", "") + (f"?{query}" if query else ""))
        if environ.get("PATH_INFO") == "/control":
            start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(HOSTILE_PAGE)))])
            return [HOSTILE_PAGE]
        return self.app(environ, start_response)

    def leaks(self) -> list[str]:
        return [r for r in self.requests if r.startswith("/leak") or "leak=" in r]


@dataclass
class View:
    origin: str
    browser: DevTools
    recorder: Recorder

    def open(self, path: str) -> None:
        self.browser.call("Page.navigate", url=self.origin + path)
        self.loaded(lambda: True, path)

    def loaded(self, condition: Any, what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.browser.evaluate("document.readyState") == "complete" and condition():
                return
            time.sleep(0.1)
        pytest.fail(f"{what}: not loaded in {TIMEOUT:.0f} s")

    def click(self, selector: str, text: str = "") -> None:
        """Click the first element matching ``selector`` whose text contains ``text``; wait for the next page."""
        before = self.browser.evaluate("location.href")
        clicked = self.browser.evaluate(
            f"(() => {{ const el = [...document.querySelectorAll({selector!r})]"
            f".find(e => e.textContent.includes({text!r})); if (el) el.click(); return !!el; }})()"
        )
        assert clicked, f"no {selector} with {text!r} on {before}"
        self.loaded(lambda: self.browser.evaluate("location.href") != before, f"the page behind {selector} {text!r}")

    def text(self, selector: str) -> list[str]:
        return self.browser.evaluate(
            f"[...document.querySelectorAll({selector!r})].map(e => e.innerText.replace(/\\s+/g, ' ').trim())"
        )

    def screenshot(self, name: str) -> Path:
        shot = self.browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[View]:
    """The demo archive plus one hostile page, served by the view in this process; Chromium."""
    chromium = shutil.which("chromium")
    if chromium is None:
        _missing("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    tmp = tmp_path_factory.mktemp("view")
    data = tmp / "demo"
    result = run_syndicrawl("demo", "--port", "0", data_dir=data)
    assert result.returncode == 0, result.stderr
    database = Database(sqlite_url(data))
    store = CaptureStore(database, data / "warcs", "hostile", "repost", max_size=10_000_000, software="test")
    store.store_exchanges([Fetched(exchange(HOSTILE_URL, body=HOSTILE_PAGE, response_headers=[
        ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(HOSTILE_PAGE)))]), metadata=None)])
    store.finish("finished", {})
    recorder = Recorder(ViewApp(database, data / "warcs"))
    server = waitress.create_server(recorder, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        browser = DevTools(chromium, tmp / "profile")  # type: ignore[arg-type]
        try:
            browser.call("Emulation.setDeviceMetricsOverride", width=1200, height=900, deviceScaleFactor=1, mobile=False)
            yield View(f"http://127.0.0.1:{server.effective_port}", browser, recorder)
        finally:
            browser.close()
    finally:
        server.close()
        thread.join(10)
        database.dispose()


def test_search_to_article_to_chain_to_snapshot(view: View) -> None:
    view.open("/")
    assert {"lendman-blog", "rbn", "hostile"} <= {row.split(" ")[0] for row in view.text("tbody tr")}
    view.screenshot("home")

    view.browser.evaluate('document.getElementById("q").value = "aleppo siege"')
    view.click("form.search button")
    hits = view.text("ol.hits > li")
    assert [ORIGIN_TITLE in hit for hit in hits[:3]] == [True, True, False], hits  # the story and its copy first
    assert {mark.lower() for mark in view.text("ol.hits mark")} == {"aleppo", "siege"}
    assert any("copy in a cluster of 2 · origin http://127.0.0.1:" in hit for hit in hits), hits
    view.screenshot("search")

    view.click("ol.hits h3 a")  # the best hit: the origin or its copy
    assert view.text("h1")[-1] == ORIGIN_TITLE
    assert view.browser.evaluate("document.querySelectorAll('figure.timeline circle').length") == 2
    chain = view.text("ol.chain > li")
    assert chain[0].startswith("origin · lendman-blog") and chain[1].startswith("copy · rbn"), chain
    assert "similarity 0.96 to its parent" in chain[1] and "the copies credit its author: by Stephen Lendman" in chain[0]
    view.screenshot("article")

    view.click("ol.chain a", "what it changed")  # the copy's diff against its parent, the origin
    assert view.browser.evaluate("location.pathname") == "/diff"
    assert view.text("dl.fields dd")[2] == "98.7% of the text; header 1, links removed 2"
    assert view.text("ol.lines li.header") == ["HEADER by Stephen Lendman"]
    assert view.text("ol.lines del.links_removed") == ["lendmanstephen@sbcglobal.net", "sjlendman.blogspot.com"]
    view.screenshot("diff")

    view.click("dl.fields dd a", ORIGIN_TITLE)  # the parent, the origin
    assert view.text("dl.fields dd")[0].startswith("http://127.0.0.1:")
    view.click("ol.captures a")  # its capture
    assert view.browser.evaluate("location.pathname") == "/snapshot"
    frame = view.browser.evaluate(
        "(() => { const f = document.querySelector('iframe.snapshot'); return [f.getAttribute('sandbox'), f.src]; })()"
    )
    assert frame[0] == "" and "id_/http://127.0.0.1:" in frame[1], frame
    view.loaded(lambda: any("id_/http://127.0.0.1:" in r for r in view.recorder.requests), "the framed capture")
    banner = view.text(".banner")[0]
    assert banner.startswith("Archived page, as captured") and "HTTP 200" in banner, banner
    time.sleep(0.5)
    view.screenshot("snapshot")


def test_analytics_page_shows_each_plot_and_its_numbers(view: View) -> None:
    view.open("/analytics")
    sizes = view.browser.evaluate("[...document.images].map(i => i.complete && i.naturalWidth)")
    assert len(sizes) == 5 and all(sizes), sizes
    assert "lendman-blog rbn 3 0 (0%) 3" in view.text("tbody tr")
    view.screenshot("analytics")


def test_an_archived_script_reads_no_cookie_and_calls_no_api(view: View) -> None:
    """The hostile page, framed by the snapshot page and opened raw at the top level: its script
    runs in neither. The control proves the probe: served unsandboxed, it leaks the cookie at once."""
    view.open("/")
    view.browser.evaluate(f'document.cookie = "{COOKIE}; path=/"')
    assert view.browser.evaluate("document.cookie") == COOKIE
    view.open(f"/snapshot?url={quote(HOSTILE_URL, safe='')}")
    view.open(f"/id_/{HOSTILE_URL}")
    assert view.browser.evaluate("document.title") == "A hostile page"  # rendered, script and all
    time.sleep(1.0)
    assert view.recorder.leaks() == []
    view.open("/control")
    view.loaded(lambda: len(view.recorder.leaks()) >= 3, "the control's leaks")
    assert f"/leak/cookie?{quote(COOKIE, safe='')}" in view.recorder.leaks()


PAGES = ["/", "/search?q=aleppo", "/analytics", f"/snapshot?url={quote(HOSTILE_URL, safe='')}"]


def _axe_violations(view: View) -> list[str]:
    """axe-core's WCAG 2 A and AA violations on the open page: rule and elements."""
    if not AXE.exists():
        _missing(f"axe-core is not in {AXE.parent} (`make install` puts it there, with npm)")
    view.browser.evaluate(AXE.read_text(encoding="utf-8"))  # DevTools' evaluate is not bound by the page's CSP
    return view.browser.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )


@pytest.mark.parametrize("path", PAGES)
def test_pages_pass_axe_core(view: View, path: str) -> None:
    view.open(path)
    assert _axe_violations(view) == []


def test_diff_page_passes_axe_core(view: View) -> None:
    view.open("/search?q=aleppo+siege")  # the story and its copy first
    view.click("ol.hits h3 a")
    view.click("ol.chain a", "what it changed")
    assert _axe_violations(view) == []


def test_article_page_passes_axe_core_and_tab_reaches_the_skip_link(view: View) -> None:
    view.open("/search?q=aleppo")
    view.click("ol.hits h3 a")
    assert _axe_violations(view) == []
    view.browser.call("Input.dispatchKeyEvent", type="keyDown", key="Tab", code="Tab", windowsVirtualKeyCode=9)
    view.browser.call("Input.dispatchKeyEvent", type="keyUp", key="Tab", code="Tab", windowsVirtualKeyCode=9)
    assert view.browser.evaluate("document.activeElement.textContent") == "Skip to content"
