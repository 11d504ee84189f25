"""``syndicrawl worker``: run the crawls and polls the daemon queues (``[queue] redis_url``)."""

from __future__ import annotations

import click

from archive.errors import ConfigError
from syndicrawl.cli import cli, configure_logging, settings_options, verbosity
from syndicrawl.settings import Settings


@cli.command()
@click.option("--concurrency", type=click.IntRange(min=1), default=2, show_default=True,
              help="Crawl and poll processes run at the same time.")
@click.option("--batch", type=click.IntRange(min=1), default=50, show_default=True,
              help="Crawl jobs one process runs together: the sources of the jobs held at once, up to this many.")
@settings_options
@click.pass_context
def worker(ctx: click.Context, concurrency: int, batch: int, settings: Settings) -> None:
    """Run queued crawls and feed polls until SIGTERM or Ctrl-C, on any machine.

    The scheduler daemon queues them in Redis when the settings file names one
    ([queue] redis_url); every worker uses the same database, Redis and WARC storage,
    and its own data directory. The crawl jobs held at once are run as one crawl of
    their sources (--batch), which pays a crawl process's start (about a second of
    CPU) once for them all. On stopping, running crawls are stopped gracefully and
    their jobs run again on another worker.

    Example: syndicrawl worker --concurrency 4 --settings cluster.toml --data-dir /var/lib/syndicrawl
    """
    if not settings.queue_redis_url:
        raise ConfigError("no queue: set [queue] redis_url in the settings file (--settings)")
    from scheduler.queue import serve
    from scheduler.service import stop_on_signals

    configure_logging(max(1, verbosity(ctx)))
    with stop_on_signals() as stop:
        serve(settings, concurrency, stop, batch)
