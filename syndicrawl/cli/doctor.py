"""``syndicrawl doctor``: find and repair what crashed crawls and daemons left in an archive."""

from __future__ import annotations

import sys

import click

from syndicrawl import exitcodes
from syndicrawl.cli import cli, open_archive, require_archive, settings_options, stdout
from syndicrawl.settings import Settings


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only report: change nothing.")
@click.option("--forget-missing", is_flag=True,
              help="Remove the capture rows (and articles) of WARC files that are gone; kept in quarantine/.")  # fmt: skip
@settings_options
def doctor(dry_run: bool, forget_missing: bool, settings: Settings) -> None:
    """Repair what a crash left: .open WARC files, 'running' crawls and runs, stale leases and
    Redis lock keys, records without capture rows, rows naming WARC files that are gone.

    An .open WARC file that no live crawl writes is cut to its last whole record that the
    catalog knows (the bytes cut are kept in DATA_DIR/quarantine/), renamed to .warc.gz and
    indexed; one with no whole record moves to quarantine/. Capture rows pointing at records
    no longer there are removed. A source being crawled is left alone. `crawl` does the same
    for its sources before it starts.

    Every finished WARC file of a crawl is read record by record: whole response and revisit
    records that no capture row names are catalogued (imported again; their pages are not
    extracted). Capture rows naming a WARC file that is not in DATA_DIR/warcs (or [storage]
    warc_storage) are reported: restore the file, or remove them with --forget-missing (their
    articles go with them; both are kept as JSON lines in quarantine/FILE.rows.jsonl).

    \b
    Exit codes:
      0  the archive is healthy, or was repaired
      1  an error, one Error: line (no archive at DATA_DIR)
      6  problems were found and are still there (--dry-run, or a repair failed)

    Example: syndicrawl doctor --dry-run --data-dir syndicrawl-data
    """
    from archive.db.engine import Database
    from archive.doctor import doctor as examine
    from archive.ingest.importer import Importer
    from syndicrawl import __version__

    if settings.database_url:  # the archive is its tables: a crawl killed before its first WARC made no warcs/
        with open_archive(settings) as database, database.session():
            pass
    else:
        require_archive(settings)
    with Database(settings.db_url) as database:
        importer = Importer(database, settings.warcs, settings.index_dir, extractor=None,
                            max_bytes=settings.extract_max_bytes, software=f"syndicrawl {__version__}",
                            warc_max_size=settings.warc_max_size)  # fmt: skip
        report = examine(database, settings.warcs, settings.index_dir, settings.locks, dry_run=dry_run,
                         recatalog=lambda path: importer.import_file(path).captures, forget_missing=forget_missing)  # fmt: skip
    for line in report.busy:
        stdout.print(line)
    for finding in report.findings:
        stdout.print(finding.line(dry_run=dry_run))
    found = len(report.findings)
    failed = sum(finding.failed is not None for finding in report.findings)
    if not found:
        stdout.print("Healthy: nothing to repair.")
    elif dry_run:
        stdout.print(f"Found {found} problems; nothing changed (--dry-run).")
    else:
        stdout.print(f"Repaired {found - failed} of {found} problems.")
    if not report.healthy:
        sys.exit(exitcodes.UNHEALTHY)
