"""Read-only commands: ``sources``, ``captures``, ``urls``, ``article``, ``stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.filesize import decimal
from rich.table import Table

from archive.db import catalog
from archive.db.models import Capture
from archive.errors import NotFoundError
from syndicrawl.cli import cli, open_archive, settings_options, stdout
from syndicrawl.cli.crawl import read_sources, sources_option
from syndicrawl.cli.rows import echo_json, json_option
from syndicrawl.durations import format_duration
from syndicrawl.settings import Settings
from syndicrawl.sources import Source


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"  # type: ignore[attr-defined]


@cli.command()
@sources_option
@json_option
@settings_options
def sources(config_file: Path, as_json: bool, settings: Settings) -> None:
    """List the configured sources, their last crawl, and the pages and captures archived.

    pages: distinct URLs with an extracted article; captures: every fetch archived
    (a page crawled three times is one page, three captures). backfill, max pages, max depth:
    the bounds of its crawls (older listing pages, pages fetched, link hops from an entry point).
    recheck: when each article page is fetched again after its first capture, to see whether
    it was edited (polls of the scheduler daemon and crawl --poll).

    Example: syndicrawl sources --config demo-sources.toml
    """
    configured = read_sources(config_file)
    with open_archive(settings) as database, database.session() as s:
        summaries = {row.name: row for row in catalog.source_summaries(s)}
    if as_json:
        echo_json({
            "source": source.name, "kind": source.kind, "feeds": list(source.feeds),
            "sitemaps": list(source.sitemaps), "start_urls": list(source.start_urls),
            **_bounds(source, settings), "recheck_seconds": list(source.recheck), **_counts(summaries.get(source.name)),
        } for source in configured)
        return
    table = Table()
    columns = ("source", "kind", "feeds", "sitemaps", "start urls", "backfill", "max pages", "max depth",
               "recheck", "last crawl", "status", "pages", "captures")
    for column in columns:
        table.add_column(column)
    for source in configured:
        summary = summaries.get(source.name)
        table.add_row(
            source.name,
            source.kind,
            str(len(source.feeds)),
            str(len(source.sitemaps)),
            str(len(source.start_urls)),
            *map(str, _bounds(source, settings).values()),
            ", ".join(format_duration(seconds) for seconds in source.recheck) or "never",
            _when(summary.last_crawl_started if summary else None),
            (summary.last_crawl_status or "-") if summary else "never crawled",
            str(summary.pages) if summary else "0",
            str(summary.captures) if summary else "0",
        )
    stdout.print(table)


def _bounds(source: Source, settings: Settings) -> dict[str, int]:
    """What bounds a source's crawls: its own values, else the settings' (``backfill_pages``)."""
    backfill = settings.backfill_pages if source.backfill_pages is None else source.backfill_pages
    return {"backfill_pages": backfill, "max_pages": source.max_pages, "max_depth": source.max_depth}


def _counts(summary: catalog.SourceSummary | None) -> dict[str, Any]:
    """A source's counts and last crawl, for ``sources --json`` and ``stats --json``."""
    return {
        "pages": summary.pages if summary else 0,
        "captures": summary.captures if summary else 0,
        "failed_extractions": summary.failed if summary else 0,
        "warc_bytes": summary.bytes if summary else 0,
        "last_crawl_started": summary.last_crawl_started if summary else None,
        "last_crawl_finished": summary.last_crawl_finished if summary else None,
        "last_crawl_status": summary.last_crawl_status if summary else None,
    }


@cli.command()
@click.argument("url")
@json_option
@settings_options
def captures(url: str, as_json: bool, settings: Settings) -> None:
    """List every capture of URL, oldest first, with its WARC file and offset.

    Revisits (the payload was already archived) are marked and point at the original.

    Example: syndicrawl captures http://127.0.0.3:8480/2016/11/01/us-supported-terrorists-fail-to-break-aleppo-siege/ --data-dir syndicrawl-demo
    """
    with open_archive(settings) as database, database.session() as s:
        rows = catalog.captures_for_url(s, url)
    if not rows:
        raise NotFoundError(f"{url}: no captures in {settings.db_url_shown}")
    show_captures(rows, as_json=as_json)


def show_captures(rows: list[Capture], *, as_json: bool) -> None:
    """Captures as a table, or as JSON: ``captures`` and ``snapshot --list``."""
    if as_json:
        echo_json({
            "timestamp": row.timestamp, "url": row.url, "status": row.status, "mime": row.mime,
            "type": "revisit" if row.revisit_of else "response", "revisit_of": row.revisit_of,
            "warc_file": row.warc_file, "warc_offset": row.warc_offset, "warc_length": row.warc_length,
            "payload_digest": row.payload_digest, "record_id": row.record_id,
        } for row in rows)
    else:
        stdout.print(captures_table(rows))


def captures_table(rows: list[Capture]) -> Table:
    """Captures as a table, one row each: time, status, response or revisit, WARC file and offset."""
    table = Table()
    for column in ("timestamp (UTC)", "status", "type", "WARC file", "offset", "length"):
        table.add_column(column)
    for row in rows:
        kind = f"revisit of #{row.revisit_of}" if row.revisit_of else "response"
        table.add_row(
            row.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
            str(row.status),
            kind,
            row.warc_file,
            str(row.warc_offset),
            str(row.warc_length),
        )
    return table


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the article as one JSON object.")
@settings_options
def article(url: str, as_json: bool, settings: Settings) -> None:
    """Show the extracted metadata and text of URL's latest capture.

    Example: syndicrawl article http://127.0.0.1:8480/2016/11/us-supported-terrorists-fail-to-break.html --data-dir syndicrawl-demo --json
    """
    with open_archive(settings) as database, database.session() as s:
        row = catalog.latest_article(s, url)
        capture = row.capture if row is not None else None
    if row is None or capture is None:
        raise NotFoundError(f"{url}: no extracted article in {settings.db_url_shown}")
    fields = catalog.article_fields(row)
    if as_json:
        echo_json(fields)
        return
    for key, value in fields.items():
        if key != "text" and value is not None:
            stdout.print(f"{key}: {value}")
    stdout.print()
    click.echo(row.text)


@cli.command()
@json_option
@settings_options
def stats(as_json: bool, settings: Settings) -> None:
    """Counts per source: pages, captures, failed extractions, bytes archived, feeds.

    pages: distinct URLs with an extracted article; captures: every fetch archived, each
    response and revisit (a page crawled three times is one page, three captures).

    Example: syndicrawl stats --data-dir syndicrawl-demo
    """
    with open_archive(settings) as database, database.session() as s:
        rows = catalog.source_summaries(s)
    if as_json:
        echo_json({"source": row.name, "kind": row.kind, **_counts(row), "feeds": row.feeds} for row in rows)
        return
    table = Table()
    for column in ("source", "kind", "pages", "captures", "failed extractions", "WARC bytes", "feeds", "last crawl"):
        table.add_column(column, justify="left" if column in {"source", "kind", "last crawl"} else "right")
    for row in rows:
        table.add_row(
            row.name,
            row.kind,
            str(row.pages),
            str(row.captures),
            str(row.failed),
            decimal(row.bytes),
            str(row.feeds),
            f"{_when(row.last_crawl_started)} {row.last_crawl_status or ''}".strip(),
        )
    stdout.print(table)


@cli.command()
@click.option("--source", help="Only URLs this source captured.")
@click.option("--prefix", help="Only URLs starting with this, e.g. https://example.org/2016/.")
@json_option
@settings_options
def urls(source: str | None, prefix: str | None, as_json: bool, settings: Settings) -> None:
    """List the archived URLs, one a line, in order.

    A URL captured by two sources is listed for each. With --json: each URL's source,
    number of captures and first and last capture time.

    Example: syndicrawl urls --source rbn --prefix http://127.0.0.3:8480/2016/11/ --data-dir syndicrawl-demo
    """
    with open_archive(settings) as database, database.session() as s:
        if source is not None and catalog.source_kind(s, source) is None:
            raise NotFoundError(f"--source {source}: no such source in {settings.db_url_shown}")
        found = catalog.archived_urls(s, source=source, prefix=prefix)
        if as_json:
            echo_json({
                "url": row.url, "source": row.source, "captures": row.captures,
                "first_capture": row.first_capture, "last_capture": row.last_capture,
            } for row in found)
        else:
            for row in found:
                click.echo(row.url)
