"""``syndicrawl schedule ...`` (persistent crawl schedules) and ``syndicrawl scheduler run`` (the daemon)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from archive.db import runs
from archive.db.engine import Database
from scheduler.schedules import CrawlTarget, make_trigger, open_schedules, target_for
from syndicrawl.cli import cli, configure_logging, settings_options, stdout, verbosity
from syndicrawl.cli.crawl import read_sources, sources_option
from syndicrawl.cli.inspect import _when
from syndicrawl.cli.rows import echo_json, json_option
from syndicrawl.settings import Settings
from syndicrawl.sources import select

if TYPE_CHECKING:
    from datetime import datetime

    from archive.db.models import Crawl, ScheduleRun


@cli.group()
def schedule() -> None:
    """Schedule crawls of sources; `syndicrawl scheduler run` runs them (and polls their feeds)."""


@schedule.command("add")
@click.argument("source_name", metavar="SOURCE")
@click.option("--every", metavar="DURATION", help="Crawl every DURATION: 45s, 30m, 2h, 1h30m, 1d.")
@click.option("--cron", metavar="EXPRESSION", help='Crawl on a crontab schedule in UTC, e.g. "0 */2 * * *".')
@click.option("--jitter", type=int, metavar="SECONDS", help="Start each crawl up to SECONDS late, at random.")
@click.option("--replace", is_flag=True, help="Change the schedule SOURCE has (a paused one is resumed).")
@sources_option
@settings_options
def schedule_add(
    source_name: str, every: str | None, cron: str | None, jitter: int | None, replace: bool, config_file: Path,
    settings: Settings,
) -> None:
    """Schedule crawls of SOURCE, kept in the database until removed.

    The daemon (`syndicrawl scheduler run`) crawls the source on this schedule and, in
    between, polls its feeds as often as they change. The schedule keeps the sources file,
    data directory and settings file given here. A source has one schedule: --replace
    changes it.

    Example: syndicrawl schedule add rbn --every 30m --jitter 60 --config sources.toml
    """
    select(read_sources(config_file), [source_name], config_file)
    trigger, shown = make_trigger(every, cron, jitter)
    with open_schedules(settings) as schedules:
        job = schedules.add(target_for(source_name, config_file, settings), trigger, shown,
                            misfire_grace_time=settings.misfire_grace_time, replace=replace)
        next_run = job.next_run_time
    stdout.print(f"Scheduled {source_name}: {shown}; next crawl {_when(next_run)} UTC.")


@schedule.command("list")
@json_option
@settings_options
def schedule_list(as_json: bool, settings: Settings) -> None:
    """List the schedules: next run, last run and its result.

    Example: syndicrawl schedule list
    """
    with open_schedules(settings) as schedules:
        jobs = [(job.id, job.name, job.next_run_time, CrawlTarget.of(job)) for job in schedules.all()]
    with Database(settings.db_url) as database, database.session() as s:
        latest = runs.latest_runs(s)
    if as_json:
        echo_json(_schedule_json(source, shown, next_run, target, *latest.get(source, (None, None)))
                  for source, shown, next_run, target in jobs)
        return
    table = Table()
    for column in ("source", "schedule", "next run (UTC)", "last run (UTC)", "last result", "sources file"):
        table.add_column(column)
    for source, shown, next_run, target in jobs:
        run, crawl = latest.get(source, (None, None))
        if run is None:
            result = "-"
        elif crawl is not None and run.status != "skipped":
            result = f"{run.status}: {crawl.pages} pages, {crawl.articles} articles, {crawl.errors} errors"
        else:
            result = run.status + (f": {run.detail}" if run.detail else "")
        table.add_row(source, shown, _when(next_run) if next_run else "paused",
                      _when(run.started_at if run else None), result, target.config_file)
    stdout.print(table)


def _schedule_json(
    source: str, shown: str, next_run: datetime | None, target: CrawlTarget, run: ScheduleRun | None, crawl: Crawl | None
) -> dict[str, Any]:
    last_run = None
    if run is not None:
        last_run = {"started": run.started_at, "status": run.status, "detail": run.detail}
        if crawl is not None:
            last_run.update(pages=crawl.pages, articles=crawl.articles, errors=crawl.errors)
    return {
        "source": source, "schedule": shown, "paused": next_run is None, "next_run": next_run, "last_run": last_run,
        "sources_file": target.config_file, "data_dir": target.data_dir, "settings_file": target.settings_file,
    }


def _change(verb: str, done: str):  # type: ignore[no-untyped-def]
    @click.argument("source_name", metavar="SOURCE")
    @settings_options
    def command(source_name: str, settings: Settings) -> None:
        with open_schedules(settings) as schedules:
            getattr(schedules, verb)(source_name)
        stdout.print(f"{done} the schedule of {source_name}.")

    return command


schedule.command(
    "pause",
    help="Pause the schedule of SOURCE: no crawls, no feed polls, until resumed.\n\n"
    "Example: syndicrawl schedule pause rbn",
)(_change("pause", "Paused"))
schedule.command(
    "resume",
    help="Resume the paused schedule of SOURCE.\n\nExample: syndicrawl schedule resume rbn",
)(_change("resume", "Resumed"))
schedule.command(
    "remove",
    help="Remove the schedule of SOURCE (its archive and feed state stay).\n\n"
    "Example: syndicrawl schedule remove rbn",
)(_change("remove", "Removed"))


@cli.group()
def scheduler() -> None:
    """The scheduler daemon."""


@scheduler.command("run")
@settings_options
@click.pass_context
def scheduler_run(ctx: click.Context, settings: Settings) -> None:
    """Run the schedules and poll the scheduled sources' feeds, until SIGTERM or Ctrl-C.

    Each crawl and poll is a `syndicrawl crawl` subprocess; one line is logged when each
    starts and ends. Stopping lets running crawls finish gracefully, then exits 0. Only
    one daemon runs per database.

    Example: syndicrawl scheduler run --data-dir syndicrawl-data
    """
    from scheduler.service import serve

    configure_logging(max(1, verbosity(ctx)))
    serve(settings)
