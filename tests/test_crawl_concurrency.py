"""Downloads at once from one host with ``download_delay = 0`` (#17): at most ``concurrent_requests_per_domain``.

With no delay, one source sent a host 9 requests at once (the limit is 4) and three sources 29:
Scrapy 2.19's downloader counts a request as transferring only once its download task runs, so
its loop handed the whole queue out first; and each source's downloader counted only its own.
A loopback server that answers each page in 0.3 s counts the requests and connections it holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fixtures.cli import FAST_SETTINGS, run_syndicrawl, write_sources

SOURCES = 3
ENTRIES = 12
PER_HOST = 4  # config/defaults.toml's concurrent_requests_per_domain


class Gauge:
    """How many at once, and the most seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


class SlowSite(BaseHTTPRequestHandler):
    """``/feed-N.xml``: ENTRIES posts of source N; a post answers after 0.3 s. Keep-alive, as Scrapy's pool uses."""

    protocol_version = "HTTP/1.1"
    requests = Gauge()
    connections = Gauge()

    def handle(self) -> None:
        with self.connections:
            super().handle()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with self.requests:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/feed-"):
                source = self.path.removeprefix("/feed-").removesuffix(".xml")
                items = "".join(f"<item><title>{n}</title><link>{base}/{source}/{n}/</link></item>" for n in range(ENTRIES))
                body, kind = f'<rss version="2.0"><channel><title>{source}</title>{items}</channel></rss>', "application/rss+xml"
            elif self.path == "/robots.txt":
                body, kind = "User-agent: *\nAllow: /\n", "text/plain"
            else:
                time.sleep(0.3)
                body, kind = f"<html><head><title>{self.path}</title></head><body><p>{self.path}</p></body></html>", "text/html"
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_site() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowSite)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_no_delay_still_bounds_downloads_per_host_across_sources(tmp_path, slow_site) -> None:
    base = f"http://127.0.0.1:{slow_site.server_address[1]}"
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": f"s{n}", "kind": "origin", "feeds": [f"{base}/feed-{n}.xml"], "download_delay": 0.0}
        for n in range(SOURCES)
    ])  # fmt: skip
    settings = tmp_path / "settings.toml"
    settings.write_text(FAST_SETTINGS.replace("[extract]\n", "[extract]\nenabled = false\n"), encoding="utf-8")

    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp_path / "data", settings=settings)

    assert result.returncode == 0, result.stderr
    assert 2 <= SlowSite.requests.most <= PER_HOST  # in parallel, but no more than the setting allows
    # Each source's connection pool keeps its own (up to PER_HOST), idle between its downloads.
    assert SlowSite.connections.most <= PER_HOST * SOURCES
