"""``syndicrawl export``: the archive in formats other tools read."""

from __future__ import annotations

from pathlib import Path

import click

from archive import wacz
from archive.db import Database
from archive.timestamps import TIME_HELP, parse_time
from syndicrawl import __version__
from syndicrawl.cli import cli, settings_options, stdout
from syndicrawl.settings import Settings


@cli.group()
def export() -> None:
    """Export the archive for other tools."""


@export.command("wacz")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The .wacz file to write.")
@click.option("--source", help="Only captures of this source.")
@click.option("--from", "start", metavar="TIME", help=f"Only captures from TIME on: {TIME_HELP}.")
@click.option("--to", "end", metavar="TIME", help="Only captures up to TIME (a date: to its end).")
@settings_options
def export_wacz(out: Path, source: str | None, start: str | None, end: str | None, settings: Settings) -> None:
    """Write a WACZ 1.1.1 file (WARCs, CDXJ index, pages, datapackage) for ReplayWeb.page or pywb.

    The WARC files holding the chosen captures go in whole; pages/pages.jsonl lists the
    chosen captures' articles with their extracted text, so the WACZ is searchable.

    Example: syndicrawl export wacz --out demo.wacz --source rbn --data-dir syndicrawl-demo
    """
    since = parse_time(start) if start else None
    until = parse_time(end, end=True) if end else None
    with Database(settings.db_url) as database, database.session() as s:
        summary = wacz.write_wacz(
            s, settings.warc_dir, settings.index_dir, out, source=source, start=since, end=until,
            software=f"syndicrawl {__version__}",
        )
    stdout.print(
        f"Wrote {out}: {len(summary.warc_files)} WARC files, {summary.index_lines} index lines, {summary.pages} pages"
    )
