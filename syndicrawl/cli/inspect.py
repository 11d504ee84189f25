"""Read-only commands: ``sources``, ``captures``, ``article``, ``stats``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.filesize import decimal
from rich.table import Table

from archive.db import catalog
from archive.db.models import Capture
from archive.errors import NotFoundError
from syndicrawl.cli import cli, open_archive, settings_options, stdout
from syndicrawl.cli.crawl import read_sources, sources_option
from syndicrawl.settings import Settings


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"  # type: ignore[attr-defined]


@cli.command()
@sources_option
@settings_options
def sources(config_file: Path, settings: Settings) -> None:
    """List the configured sources and their last crawl.

    Example: syndicrawl sources --config demo-sources.toml
    """
    configured = read_sources(config_file)
    with open_archive(settings) as database, database.session() as s:
        summaries = {row.name: row for row in catalog.source_summaries(s)}
    table = Table()
    for column in ("source", "kind", "feeds", "sitemaps", "start urls", "last crawl", "status", "articles"):
        table.add_column(column)
    for source in configured:
        summary = summaries.get(source.name)
        table.add_row(
            source.name,
            source.kind,
            str(len(source.feeds)),
            str(len(source.sitemaps)),
            str(len(source.start_urls)),
            _when(summary.last_crawl_started if summary else None),
            (summary.last_crawl_status or "-") if summary else "never crawled",
            str(summary.articles) if summary else "0",
        )
    stdout.print(table)


@cli.command()
@click.argument("url")
@settings_options
def captures(url: str, settings: Settings) -> None:
    """List every capture of URL, oldest first, with its WARC file and offset.

    Revisits (the payload was already archived) are marked and point at the original.

    Example: syndicrawl captures http://127.0.0.3:8480/2016/11/01/us-supported-terrorists-fail-to-break-aleppo-siege/ --data-dir syndicrawl-demo
    """
    with open_archive(settings) as database, database.session() as s:
        rows = catalog.captures_for_url(s, url)
    if not rows:
        raise NotFoundError(f"{url}: no captures in {settings.db_url_shown}")
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
        click.echo(json.dumps(fields, ensure_ascii=False, indent=2))
        return
    for key, value in fields.items():
        if key != "text" and value is not None:
            stdout.print(f"{key}: {value}")
    stdout.print()
    click.echo(row.text)


@cli.command()
@settings_options
def stats(settings: Settings) -> None:
    """Counts per source: captures, articles, failed extractions, bytes archived, feeds.

    Example: syndicrawl stats --data-dir syndicrawl-demo
    """
    with open_archive(settings) as database, database.session() as s:
        rows = catalog.source_summaries(s)
    table = Table()
    for column in ("source", "kind", "captures", "articles", "failed", "WARC bytes", "feeds", "last crawl"):
        table.add_column(column, justify="left" if column in {"source", "kind", "last crawl"} else "right")
    for row in rows:
        table.add_row(
            row.name,
            row.kind,
            str(row.captures),
            str(row.articles),
            str(row.failed),
            decimal(row.bytes),
            str(row.feeds),
            f"{_when(row.last_crawl_started)} {row.last_crawl_status or ''}".strip(),
        )
    stdout.print(table)
