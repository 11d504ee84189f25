"""``syndicrawl import``: WARC files from other tools into the archive."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import click

from archive.db.engine import Database
from archive.errors import SyndicrawlError
from syndicrawl import __version__, exitcodes
from syndicrawl.cli import cli, settings_options, stderr, stdout
from syndicrawl.cli.progress import ImportBar, ImportLines, import_table
from syndicrawl.settings import Settings


@cli.command("import")
@click.argument("files", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--source", help="The source the captures belong to. Default: from each file (warcinfo isPartOf, "
                               "else the host of its first response).")
@settings_options
def import_warcs(files: tuple[Path, ...], source: str | None, settings: Settings) -> None:
    """Import WARC files written by other tools (wget --warc-file, Heritrix, Browsertrix, warcprox, warcio) and ARC files.

    Each file is copied into DATA_DIR/warcs/ ([storage] warc_storage if set) unchanged
    (under its own name unless that is taken), indexed (CDXJ and a capture per response and revisit record), and its HTML
    pages are extracted and matched for syndication like crawled pages. Damaged records
    are reported with their offset and skipped; records already archived (same
    WARC-Record-ID) are counted as known, so importing a file twice adds nothing. A file
    compressed whole (one gzip member) is stored recompressed, a member per record. A file
    that cannot be imported is one error line, and the next file is imported. Exit code 4
    if any record was skipped or any file not imported, 1 if no file was. An ARC file
    (NAME.arc, NAME.arc.gz) is stored converted to WARC, as NAME.warc.gz.

    Example: syndicrawl import gazette.warc.gz --source gazette --data-dir syndicrawl-demo
    """
    from archive.ingest.extraction import extraction_pool  # loads trafilatura and the matching code: only here
    from archive.ingest.importer import Importer, ImportReport, check_name

    for path in files:
        check_name(path)  # every name checked before the first file is imported
    with ExitStack() as stack:
        database = stack.enter_context(Database(settings.db_url))
        extractor = None
        if settings.extract_enabled:
            extractor = stack.enter_context(extraction_pool(
                settings.extract_workers,
                settings.extract_timeout,
                fast=settings.extract_fast,
                max_bytes=settings.extract_max_bytes,
            ))
        importer = Importer(
            database, settings.warcs, settings.index_dir, extractor=extractor,
            max_bytes=settings.extract_max_bytes, software=f"syndicrawl {__version__}",
            warc_max_size=settings.warc_max_size,
        )
        progress = stack.enter_context(ImportBar(stderr) if stderr.is_terminal else ImportLines(stderr))
        reports: list[ImportReport] = []
        refused = 0
        for path in files:
            try:
                reports.append(importer.import_file(path, source, on_progress=progress))
            except SyndicrawlError as exc:  # this file only: not a WARC, no source name, cannot be copied
                stderr.print(f"Error: {exc}", markup=False, soft_wrap=True)
                refused += 1
    if not reports:
        sys.exit(exitcodes.ERROR)
    stdout.print(import_table(reports))
    for report in reports:
        stdout.print(f"  {report.path} -> {settings.warcs.url(report.warc_file)}")
    if refused or any(report.skipped for report in reports):
        sys.exit(exitcodes.PARTLY_FAILED)  # files refused, or records skipped (damaged, or making no capture)
