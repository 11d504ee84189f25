"""A crawl inside a loopback-only network namespace, for ``test_ssrf_netns.py``: run only there.

``python -m tests.netns_crawl DIR`` expects a namespace whose only interface, ``lo``, also holds
PUBLIC, 10.0.0.1 and 169.254.169.254, and whose /etc/hosts (bind-mounted, this namespace's only)
maps the names in HOSTS. It serves a public site on PUBLIC and traps on port 80 of the other
addresses, crawls, and prints what happened as JSON. Whatever the crawler does, no packet can
leave: the namespace has no other interface.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from syndicrawl.demo.base import Reply, redirect
from syndicrawl.demo.server import SiteServer
from syndicrawl.demo.sites import wordpress_site
from tests.fixtures.cli import FAST_SETTINGS, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS, FixedSite

#: A public address (it is not private, reserved or documentation space), owned here by ``lo``.
PUBLIC = "1.2.3.4"
HOSTS = {"public.test": PUBLIC, "internal.test": "10.0.0.1", "meta.test": "169.254.169.254",
         "loop.test": "127.0.0.1", "allowed.test": "127.0.0.1"}  # fmt: skip
TRAPS = ("127.0.0.1", "10.0.0.1", "169.254.169.254")

_HTML = (("Content-Type", "text/html; charset=UTF-8"),)


def public_site(base: str) -> FixedSite:
    """A listing of its own article, a link to the metadata service's name and two redirects to private names."""
    blog = wordpress_site("Public", WORDPRESS_POSTS[:1], base_url=base)
    hrefs = [blog.permalink(WORDPRESS_POSTS[0]), "http://meta.test/latest/meta-data/"]
    links = "".join(f'<article><h2><a href="{href}">Post</a></h2></article>\n' for href in hrefs)
    return FixedSite({
        "/robots.txt": Reply(200, (("Content-Type", "text/plain"),), b""),
        "/links/": Reply(200, _HTML, f"<html><body>{links}</body></html>".encode()),
        "/moved": redirect(302, "http://internal.test/secret"),
        "/to-loop": redirect(302, "http://loop.test/"),
    }, fallback=blog)  # fmt: skip


def main(work: Path) -> None:
    with ExitStack() as stack:
        def serve(host: str, port: int = 0) -> SiteServer[FixedSite]:
            factory = (lambda base: public_site(base.replace(PUBLIC, "public.test"))) if host == PUBLIC else (
                lambda base: FixedSite({}, fallback=wordpress_site("Trap", WORDPRESS_POSTS, base_url=base)))
            return stack.enter_context(SiteServer(factory, host=host, port=port))

        public = serve(PUBLIC)
        port = public.base_url.rsplit(":", 1)[1]
        traps = {host: serve(host, 80) for host in TRAPS}
        local = serve("127.0.0.1")  # a loopback site on another port, under spellings of its address
        local_port = local.base_url.rsplit(":", 1)[1]
        spellings = ["2130706433", "0x7f.1", "0177.0.0.1", "[::ffff:127.0.0.1]"]
        sources = write_sources(work / "sources.toml", [
            {"name": "public", "kind": "origin", "private_addresses": False, "backfill_pages": 0,
             "start_urls": [f"http://public.test:{port}/links/", f"http://public.test:{port}/moved",
                            f"http://public.test:{port}/to-loop"],
             "allowed_domains": ["public.test", "internal.test", "meta.test", "loop.test"]},
            {"name": "spellings", "kind": "origin", "private_addresses": False, "backfill_pages": 0,
             "start_urls": [f"http://{host}:{local_port}/" for host in spellings]},
            {"name": "allowed", "kind": "origin", "backfill_pages": 0, "start_urls": [f"http://allowed.test:{local_port}/"]},
        ])  # fmt: skip
        settings = work / "settings.toml"
        settings.write_text(FAST_SETTINGS, encoding="utf-8")
        command = [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--settings", str(settings),
                   "--data-dir", str(work / "data")]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        with sqlite3.connect(work / "data" / "syndicrawl.sqlite3") as db:
            articles = sorted(url for (url,) in db.execute("SELECT url FROM articles WHERE status = 'ok'"))
        json.dump({
            "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
            "public": public.base_url, "local_port": int(local_port), "articles": articles,
            "trap_requests": {host: len(server.requests) for host, server in traps.items()},
            "local_hosts": sorted({request.headers.get("Host", "") for request in local.requests}),
            "expected_article": public.site.fallback.permalink(WORDPRESS_POSTS[0]),
        }, sys.stdout)  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]))
