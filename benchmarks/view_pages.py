"""Server time per page of the researcher's view (issue #20), in process, on an existing archive.

Calls the WSGI application (``syndicrawl.web.views.ViewApp``) as waitress would, after
matplotlib is loaded as ``serve`` loads it, once (its wall time: the first analytics call draws
the plots, which later calls reuse while the data is unchanged), then ``--repeat`` times per page, and prints each page's median and worst
wall time and its CPU time per call (``time.process_time``: on a
shared machine the wall time includes waiting for a core). The article and snapshot pages are those
of the archive's largest cluster's origin, the diff that of its first copy; the search is ``--query``.
A synthetic archive of any size: ``benchmarks/view_archive.py``.

    .venv/bin/python benchmarks/view_pages.py --data-dir syndicrawl-demo
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from urllib.parse import quote

from archive.db.engine import Database, sqlite_url
from archive.syndication import analytics, chains
from syndicrawl.web import plots
from syndicrawl.web.views import ViewApp


def call(app: ViewApp, target: str) -> str:
    path, _, query = target.partition("?")
    status: list[str] = []
    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query},
                        lambda s, headers: status.append(s)))
    assert status[0].startswith("200"), (target, status, body[:300])
    return status[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("syndicrawl-demo"))
    parser.add_argument("--db-url", help="The database (default: the data directory's SQLite file).")
    parser.add_argument("--query", default="aleppo")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    database = Database(args.db_url or sqlite_url(args.data_dir))
    with database.session() as s:
        top = analytics.top_clusters(s, 1)
        origin = top[0].origin_url or "" if top else ""
        copies = chains.chain(s, origin).children if origin else []
    url = quote(origin, safe="")
    app = ViewApp(database, args.data_dir / "warcs")
    plots.prepare()
    pages = ["/", f"/search?q={quote(args.query)}", f"/article?url={url}", f"/snapshot?url={url}", "/analytics"]
    if copies:
        pages.insert(3, f"/diff?url={quote(copies[0].url, safe='')}")
    print(f"{'page':<22} {'first ms':>9} {'first CPU':>9} {'median ms':>10} {'max ms':>8} {'CPU ms':>8}")
    for page in pages:
        start, cpu = time.perf_counter(), time.process_time()
        call(app, page)
        first, first_cpu = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
        walls = []
        cpu = time.process_time()
        for _ in range(args.repeat):
            start = time.perf_counter()
            call(app, page)
            walls.append((time.perf_counter() - start) * 1000)
        cpu_ms = (time.process_time() - cpu) * 1000 / args.repeat
        print(f"{page.split('?')[0]:<22} {first:>9.1f} {first_cpu:>9.1f} {statistics.median(walls):>10.1f} "
              f"{max(walls):>8.1f} {cpu_ms:>8.1f}")
    database.dispose()


if __name__ == "__main__":
    main()
