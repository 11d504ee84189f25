"""``syndicrawl status``: the workers, the queued jobs per source, each host's request rate, the storage."""

from __future__ import annotations

from dataclasses import asdict

import click
from rich.table import Table

from archive.errors import ConfigError
from syndicrawl.cli import cli, settings_options, stdout
from syndicrawl.cli.rows import echo_json, json_option
from syndicrawl.settings import Settings


@cli.command()
@json_option
@settings_options
def status(as_json: bool, settings: Settings) -> None:
    """Show the workers alive, the jobs queued, running and failed per source, the requests each
    host was sent in the last minute (by every worker), and this machine's WARC storage.

    A worker is alive while its heartbeat is younger than [queue] heartbeat_timeout; past it,
    its jobs are run again by another.

    Example: syndicrawl status --settings cluster.toml
    """
    if not settings.queue_redis_url:
        raise ConfigError("no queue: set [queue] redis_url in the settings file (--settings)")
    from scheduler.status import read_status

    found = read_status(settings)
    if as_json:
        echo_json(asdict(found))
        return
    alive = [w for w in found.workers if w.heartbeat_age is not None and w.heartbeat_age < settings.queue_heartbeat_timeout]
    stdout.print(f"Workers: {len(alive)} alive of {len(found.workers)} registered")
    for w in found.workers:
        beat = "no heartbeat yet" if w.heartbeat_age is None else f"heartbeat {w.heartbeat_age:.0f}s ago"
        stdout.print(f"  {w.name}: {w.concurrency} at a time, since {w.since}, {beat}")
    table = Table("source", "queued", "running", "failed", "last run", box=None)
    for source, jobs in sorted(found.sources.items()):
        table.add_row(source, str(jobs.queued), str(jobs.running), str(jobs.failed), jobs.last_run or "-")
    stdout.print(table)
    rates = ", ".join(f"{host} {n}" for host, n in sorted(found.host_rates.items())) or "none"
    stdout.print(f"Requests per host in the last minute: {rates}")
    stdout.print(f"Storage: {found.warc_files} WARC files, {found.warc_bytes / 1e6:.1f} MB in {settings.warcs.remote or settings.warc_dir}")
