"""ReplayWeb.page, in headless Chromium, opens a WACZ of ``syndicrawl export wacz``: it finds an
article by words of its text and replays it with its title.

ReplayWeb.page is the npm package ``replaywebpage`` (its static ``index.html``, ``ui.js`` and
``sw.js``), put in build/replaywebpage/ by ``make install``; Chromium is Debian's ``chromium``,
installed by .ci/run. Without either this module skips, except under CI=true. Its files and the
WACZ are served from one loopback origin by Twisted's static server (which answers the range
requests ReplayWeb.page reads a WACZ with), the service worker's secure context being
http://127.0.0.1. Chromium is driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``): no WebDriver and no websocket library to install. Every address but
loopback goes to a proxy that is not there and no name is resolved, so the browser cannot reach
anything else.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.cli import run_syndicrawl, write_sources

ROOT = Path(__file__).resolve().parents[1]
REPLAYWEBPAGE = ROOT / "build" / "replaywebpage"
TIMEOUT = 60.0

#: Serves the directory argv[1] with the WACZ argv[2] as /archive.wacz on a free loopback port, printed.
SERVER = """
import sys
from twisted.internet import reactor
from twisted.web.server import Site
from twisted.web.static import File
root = File(sys.argv[1])
root.putChild(b"archive.wacz", File(sys.argv[2], defaultType="application/wacz"))
print(reactor.listenTCP(0, Site(root), interface="127.0.0.1").getHost().port, flush=True)
reactor.run()
"""

#: The text of each element named like ``tag`` anywhere in the document, shadow roots included.
SHADOW_TEXTS = """
((tag) => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.tagName === tag) found.push(((el.shadowRoot || el).textContent || "").replace(/\\s+/g, " ").trim());
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
})
"""

#: Title and text of the replay frames (same-origin: ReplayWeb.page's service worker serves them).
REPLAY_FRAMES = """
(() => {
  const frames = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.tagName === "IFRAME" && el.contentDocument && el.contentDocument.body)
        frames.push({title: el.contentDocument.title, text: el.contentDocument.body.innerText});
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return frames;
})()
"""

#: The text index ReplayWeb.page's service worker serves for the one collection loaded, as JSON lines.
TEXT_INDEX = """
(async () => {
  const {colls} = await (await fetch("/w/api/coll-index")).json();
  const index = await (await fetch(`/w/api/c/${colls[0].id}/textIndex`)).text();
  return index.split("\\n").filter(Boolean).map(JSON.parse);
})()
"""


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class DevTools:
    """Chromium, headless, and the DevTools protocol on its pipe (fd 3 in, fd 4 out; messages end in NUL)."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_chromium, self._write = os.pipe()
        self._read, from_chromium = os.pipe()
        args = [
            executable, "--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu",
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
        # bash puts the pipe's ends on fds 3 and 4 (dash takes one-digit fds only); Debian's chromium is a script.
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_chromium} 4>&{from_chromium}', "bash", *args, "about:blank"],
            pass_fds=(to_chromium, from_chromium), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self._buffer = b""
        self._id = 0
        self._session: str | None = None
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        except BaseException:
            self.close()
            raise

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if self._session is not None:
            message["sessionId"] = self._session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._next(time.monotonic() + TIMEOUT)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _next(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if not select.select([self._read], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise EOFError(f"Chromium exited ({self.process.wait()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str) -> Any:
        """The first truthy value of ``expression``, polled; on timeout the loader's message says why."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        loader = self.evaluate(f'{SHADOW_TEXTS}("WR-LOADER")')
        pytest.fail(f"ReplayWeb.page showed no {what} in {TIMEOUT:.0f} s; its loader says: {loader}")

    def close(self) -> None:
        os.close(self._write)  # Chromium exits when its pipe closes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._read)


@dataclass
class Replay:
    origin: str
    browser: DevTools
    pages: list[dict[str, str]]

    def open(self, **fragment: str) -> None:
        """The app on our WACZ, at the view the fragment names (ReplayWeb.page's own URL state)."""
        source = urllib.parse.quote(f"{self.origin}/archive.wacz", safe="")
        url = f"{self.origin}/?source={source}#{urllib.parse.urlencode(fragment, quote_via=urllib.parse.quote)}"
        self.browser.call("Page.navigate", url=url)


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory, wordpress_server, fast_settings: Path) -> Iterator[Replay]:
    """The gazette crawled and exported; ReplayWeb.page and the WACZ on loopback; Chromium."""
    chromium = shutil.which("chromium")
    if chromium is None:
        _missing("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    if not all((REPLAYWEBPAGE / name).exists() for name in ("index.html", "ui.js", "sw.js")):
        _missing(f"ReplayWeb.page is not in {REPLAYWEBPAGE} (`make install` puts it there, with npm)")
    tmp = tmp_path_factory.mktemp("replaywebpage")
    sources = write_sources(tmp / "sources.toml", [{"name": "gazette", "kind": "repost",
                                                    "feeds": [wordpress_server.url("/feed/")]}])
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp / "data", settings=fast_settings)
    assert result.returncode == 0, result.stderr
    wacz = tmp / "gazette.wacz"
    result = run_syndicrawl("export", "wacz", "--out", str(wacz), data_dir=tmp / "data")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(wacz) as archive:
        pages = [json.loads(line) for line in archive.read("pages/pages.jsonl").splitlines()[1:]]
    assert len(pages) >= 2, pages
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(REPLAYWEBPAGE), str(wacz)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        browser = DevTools(chromium, tmp / "profile")  # type: ignore[arg-type]
        try:
            yield Replay(f"http://127.0.0.1:{port}", browser, pages)
        finally:
            browser.close()
    finally:
        server.terminate()
        server.wait()


def _words(text: str) -> set[str]:
    return {word.lower() for word in re.findall(r"[A-Za-z]{6,}", text)}


def test_replaywebpage_finds_an_article_by_words_of_its_text(replay: Replay) -> None:
    """The text search (the Pages tab's query) finds the one page whose extracted text holds a word
    that no title, URL or other page holds: ReplayWeb.page searched the pages' text, not their titles.
    Its service worker serves pages.jsonl as the text index: only a header saying ``hasText`` makes it
    one (without, ReplayWeb.page 2.5.3 falls back to searching the page list it loaded, so the search
    alone would not tell)."""
    page = replay.pages[0]
    others = set().union(*(_words(p["text"]) for p in replay.pages[1:]),
                         *(_words(p["title"] + " " + p["url"]) for p in replay.pages))
    word = sorted(_words(page["text"]) - others)[0]
    replay.open(view="pages", query=word)
    entries = replay.browser.wait_for(f'{SHADOW_TEXTS}("WR-PAGE-ENTRY")', f"page found by {word!r}")
    assert len(entries) == 1 and page["title"] in entries[0] and page["url"] in entries[0], (word, entries)
    index = replay.browser.evaluate(TEXT_INDEX)
    assert index and index[0].get("hasText") is True, f"ReplayWeb.page's text index: {index}"
    assert [(p["url"], p["text"]) for p in index[1:]] == [(p["url"], p["text"]) for p in replay.pages]


def test_replaywebpage_replays_an_article_with_its_title(replay: Replay) -> None:
    page = replay.pages[-1]
    replay.open(view="replay", url=page["url"], ts=re.sub(r"\D", "", page["ts"]))
    frames = replay.browser.wait_for(
        f"{REPLAY_FRAMES}.filter(f => f.title && f.text.length > 0)", f"replay of {page['url']}"
    )
    first_sentence = page["text"].split(". ")[0]
    assert frames[0]["title"].startswith(page["title"]) and first_sentence in frames[0]["text"], frames
