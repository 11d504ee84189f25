"""``syndicrawl serve``: the read-only HTTP API (``syndicrawl.web.api``) under waitress."""

from __future__ import annotations

import gc
import logging

import click
import waitress

from archive.errors import cannot_listen
from syndicrawl.cli import cli, open_archive, settings_options, stderr
from syndicrawl.settings import Settings
from syndicrawl.web.api import ArchiveApp


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port (0: any free one).")
@click.option("--threads", type=click.IntRange(1), default=4, show_default=True, help="Requests served at once.")
@settings_options
def serve(host: str, port: int, threads: int, settings: Settings) -> None:
    """Serve the archive read-only over HTTP until Ctrl-C.

    A CDX server like pywb's (/cdx?url=...), Memento TimeMaps (/timemap/link/URL) and
    TimeGates (/timegate/URL), raw replay (/TIMESTAMPid_/URL) and JSON answers
    (/api/article?url=..., /api/chain?url=...).

    Example: syndicrawl serve --port 8080 --data-dir syndicrawl-demo
    """
    # waitress warns on every request that waits for a free thread: under load that is the
    # queue doing its job, and the warning floods the terminal.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    database = open_archive(settings)
    try:
        server = waitress.create_server(ArchiveApp(database, settings.warc_dir), host=host, port=port, threads=threads)
    except OSError as exc:
        database.dispose()
        raise cannot_listen(host, port, exc) from exc
    stderr.print(f"Serving {settings.data_dir} on http://{host}:{server.effective_port}/ (Ctrl-C stops)")
    gc.freeze()  # the modules and the app live as long as the server: collections skip them
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        database.dispose()
