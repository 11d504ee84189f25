"""``syndicrawl feeds status``: how each polled feed is doing."""

from __future__ import annotations

import click
from rich.table import Table

from archive.db import feedpolls
from syndicrawl.cli import cli, open_archive, settings_options, stdout
from syndicrawl.cli.inspect import _when
from syndicrawl.cli.rows import echo_json, json_option
from syndicrawl.durations import format_duration
from syndicrawl.settings import Settings


@cli.group()
def feeds() -> None:
    """The polled feeds of the scheduled sources."""


def _trust(trust: str, has_validators: bool) -> str:
    return trust if has_validators or trust == "distrusted" else "no validators"


@feeds.command("status")
@click.option("--source", "source_name", metavar="SOURCE", help="Only the feeds of SOURCE.")
@json_option
@settings_options
def feeds_status(source_name: str | None, as_json: bool, settings: Settings) -> None:
    """One row per polled feed: last success, last new entry, errors, interval, next poll, trust.

    "conditional GET" says whether the feed's ETag / Last-Modified are trusted (polls send
    them and a 304 saves the download), still being checked (unverified), or were caught
    lying (distrusted: the feed is always fetched whole).

    Example: syndicrawl feeds status --source rbn
    """
    with open_archive(settings) as database, database.session() as s:
        rows = feedpolls.feed_statuses(s, source_name)
    if as_json:
        echo_json({
            "source": row.source, "feed": row.url, "last_success": row.state.last_success_at,
            "last_new_entry": row.state.last_new_entry_at, "errors": row.state.consecutive_errors,
            "last_error_kind": row.state.last_error_kind, "last_error": row.state.last_error,
            "interval_seconds": row.state.interval, "next_poll": row.state.next_poll_at,
            "conditional_get": _trust(row.state.trust, bool(row.state.etag or row.state.last_modified)),
        } for row in rows)
        return
    table = Table()
    for column in ("source", "feed", "last success", "last new entry", "errors", "last error", "interval",
                   "next poll (UTC)", "conditional GET"):
        table.add_column(column)
    for row in rows:
        state = row.state
        error = f"{state.last_error_kind}: {state.last_error}" if state.last_error_kind else "-"
        table.add_row(
            row.source,
            row.url,
            _when(state.last_success_at),
            _when(state.last_new_entry_at),
            str(state.consecutive_errors),
            error,
            format_duration(state.interval) if state.interval else "-",
            _when(state.next_poll_at) if state.next_poll_at else "due",
            _trust(state.trust, bool(state.etag or state.last_modified)),
        )
    stdout.print(table)
