"""The HTTP download handler's close, when its connections close just as its timer falls due."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from crawler.settings import scrapy_settings
from syndicrawl.settings import load_settings
from syndicrawl.sources import Source

#: The pool closes at 0.95 s, just before close()'s 1 s timer, and the reactor is busy from 0.9 s
#: to 1.2 s, so both run in one loop iteration (as when 1,200 sources finish together).
RACE = textwrap.dedent(
    """
    import sys, time
    from importlib import import_module
    from scrapy.utils.reactor import install_reactor
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import defer, reactor
    from twisted.logger import globalLogPublisher
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.test import get_crawler

    module, name = sys.argv[1].rsplit(".", 1)
    handler = getattr(import_module(module), name)(get_crawler())
    failures = []
    globalLogPublisher.addObserver(lambda event: "log_failure" in event and failures.append(event["log_failure"]))
    closing = defer.Deferred()
    handler._pool.closeCachedConnections = lambda: closing

    def start():
        reactor.callLater(0.95, closing.callback, None)
        reactor.callLater(0.9, time.sleep, 0.3)
        deferred_from_coro(handler.close()).addBoth(lambda _: reactor.callLater(0.3, reactor.stop))

    reactor.callWhenRunning(start)
    reactor.run()
    print(" ".join(failure.type.__name__ for failure in failures) or "none")
    """
)


@pytest.mark.parametrize(
    ("handler", "failures"),
    [("scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler", "AlreadyCalledError"),  # the race is real
     ("crawler.downloads.HttpDownloadHandler", "none")],
)  # fmt: skip
def test_close_fires_its_deferred_once(handler: str, failures: str) -> None:
    probe = subprocess.run([sys.executable, "-c", RACE, handler], capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == failures.split(), probe.stderr


def test_the_crawl_downloads_with_it() -> None:
    handlers = scrapy_settings(load_settings(), Source(name="site", kind="origin"))["DOWNLOAD_HANDLERS_BASE"]
    assert handlers == {"http": "crawler.downloads.HttpDownloadHandler", "https": "crawler.downloads.HttpDownloadHandler"}
