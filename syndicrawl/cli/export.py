"""``syndicrawl export``: the archive in formats other tools read."""

from __future__ import annotations

from pathlib import Path

import click

from archive.db import catalog
from archive.db.timestamps import TIME_HELP, parse_time
from archive.errors import NotFoundError
from archive.lookup import wacz
from archive.syndication import chains
from syndicrawl import __version__
from syndicrawl.cli import cli, open_archive, settings_options, stdout
from syndicrawl.cli.rows import format_options, write_rows
from syndicrawl.settings import Settings


@cli.group()
def export() -> None:
    """Export the archive for other tools."""


@export.command("wacz")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The .wacz file to write.")
@click.option("--source", help="Only captures of this source.")
@click.option("--from", "start", metavar="TIME", help=f"Only captures from TIME on: {TIME_HELP}.")
@click.option("--to", "end", metavar="TIME", help="Only captures up to TIME (a date: to its end).")
@click.option("--title", help="The archive's title in datapackage.json [default: 'syndicrawl: SOURCE'].")
@settings_options
def export_wacz(
    out: Path, source: str | None, start: str | None, end: str | None, title: str | None, settings: Settings
) -> None:
    """Write a WACZ 1.1.1 file (WARCs, CDXJ index, pages, datapackage) for ReplayWeb.page or pywb.

    The WARC files holding the chosen captures go in whole; pages/pages.jsonl lists the
    chosen captures' articles with their extracted text, so ReplayWeb.page searches them by
    text. pywb reads a WACZ only unpacked (wb-manager add --unpack-wacz).

    Example: syndicrawl export wacz --out demo.wacz --source rbn --data-dir syndicrawl-demo
    """
    since = parse_time(start) if start else None
    until = parse_time(end, end=True) if end else None
    with open_archive(settings) as database, database.session() as s:
        summary = wacz.write_wacz(
            s, settings.warcs, settings.index_dir, out, source=source, start=since, end=until, title=title,
            software=f"syndicrawl {__version__}",
        )
    stdout.print(
        f"Wrote {out}: {len(summary.warc_files)} WARC files, {summary.index_lines} index lines, {summary.pages} pages"
    )


@export.command("articles")
@format_options
@click.option("--source", help="Only the articles of this source.")
@click.option("--with-text", is_flag=True, help="Add each article's extracted text (a column `text`).")
@settings_options
def export_articles(fmt: str, out: Path | None, source: str | None, with_text: bool, settings: Settings) -> None:
    """Export one row per archived page with its metadata, its WARC record and its place in syndication.

    Columns: url, canonical_url, title, author, published (as stated), published_date (the
    day stated), published_time (UTC; when a time is stated), published_source, language,
    site, site_kind, sitename, first_captured, captured, warc_file, warc_offset,
    text_hash, cluster_id, relation (origin, copy, excerpt, unique), parent_url,
    origin_url, similarity; text with --with-text. Each page once: its latest article
    (the database's view `pages`). Parquet columns are typed (dates, UTC timestamps).

    Example: syndicrawl export articles --format csv --out articles.csv --source rbn --data-dir syndicrawl-demo
    """
    fields = chains.ARTICLE_TEXT_FIELDS if with_text else chains.ARTICLE_FIELDS
    with open_archive(settings) as database, database.session() as s:
        if source is not None and catalog.source_kind(s, source) is None:
            raise NotFoundError(f"--source {source}: no such source in the archive")
        write_rows(chains.article_rows(s, source=source, with_text=with_text), fields, fmt, out)
