"""``syndicrawl serve``: the researcher's view and the read-only HTTP API (``syndicrawl.web``) under waitress."""

from __future__ import annotations

import gc
import logging
import resource
from typing import Any

import click
import waitress

from archive.errors import cannot_listen
from syndicrawl.cli import cli, open_archive, settings_options, stderr
from syndicrawl.settings import Settings
from syndicrawl.web import plots
from syndicrawl.web.views import ViewApp

#: Connections held open at once. A connection costs the server a file descriptor and a few
#: KiB, not a thread: waitress's event loop reads requests and hands only whole ones to the
#: threads. So clients that connect, send part of a request and stall (300 of them locked every
#: new client out under waitress's default of 100) take a slot each but no worker; past the
#: limit, new connections wait in the listen backlog until a slot frees.
CONNECTIONS = 1000
_SPARE_FILES = 64  # the database, WARC files and the loop's own descriptors, beside the connections
#: waitress's limits against stalled clients (its defaults in brackets).
SERVER_OPTIONS: dict[str, Any] = {
    # An idle connection, between keep-alive requests or in a request that stopped arriving, is
    # closed after 30 s (120), looked for every 5 s (30): a stalled client holds a slot 35 s at most.
    "channel_timeout": 30,
    "cleanup_interval": 5,
    # poll(), not select(), which fails on descriptors above 1023 (FD_SETSIZE).
    "asyncore_use_poll": True,
    "backlog": 1024,  # connections the kernel queues while all slots are taken (the default)
}


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one).")
@click.option("--threads", type=click.IntRange(1), default=4, show_default=True, help="Requests served at once.")
@settings_options
def serve(host: str, port: int, threads: int, settings: Settings) -> None:
    """Serve the archive read-only over HTTP until Ctrl-C.

    The researcher's view in a browser at / (search, articles with their chains as
    timelines, sandboxed snapshots, /analytics); a CDX server like pywb's (/cdx?url=...),
    Memento TimeMaps (/timemap/link/URL; pywb's /timemap/json/URL) and TimeGates (/timegate/URL), raw replay
    (/TIMESTAMPid_/URL) and JSON answers (/api/article?url=..., /api/chain?url=...).

    Example: syndicrawl serve --port 8080 --data-dir syndicrawl-demo
    """
    # waitress warns on every request that waits for a free thread: under load that is the
    # queue doing its job, and the warning floods the terminal.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    database = open_archive(settings)
    try:
        server = waitress.create_server(ViewApp(database, settings.warcs), host=host, port=port, threads=threads,
                                        connection_limit=connection_limit(), **SERVER_OPTIONS)
    except OSError as exc:
        database.dispose()
        raise cannot_listen(host, port, exc) from exc
    plots.prepare()
    stderr.print(f"Serving {settings.data_dir} on http://{host}:{server.effective_port}/ (Ctrl-C stops)")
    gc.freeze()  # the modules and the app live as long as the server: collections skip them
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        database.dispose()


def connection_limit() -> int:
    """``CONNECTIONS``, after raising the open-file limit to hold them if the hard limit allows.

    Otherwise fewer: at the open-file limit accept() fails, and waitress would retry it in a
    busy loop instead of leaving new connections in the backlog (Linux's usual soft limit is
    1,024 files).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CONNECTIONS + _SPARE_FILES
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return CONNECTIONS
    soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return min(CONNECTIONS, soft - _SPARE_FILES)
