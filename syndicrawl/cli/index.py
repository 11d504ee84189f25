"""``syndicrawl index rebuild``: the CDXJ index files, recreated from the WARC files."""

from __future__ import annotations

import sys

import click

from archive.warc import cdxj
from syndicrawl.cli import cli, require_archive, settings_options, stdout
from syndicrawl.settings import Settings


@cli.group()
def index() -> None:
    """Manage the CDXJ indexes (DATA_DIR/indexes/, one per WARC file, as pywb reads them)."""


@index.command("rebuild")
@settings_options
def index_rebuild(settings: Settings) -> None:
    """Re-index every finished WARC file; remove indexes whose WARC file is gone.

    Each file is read to its end first, so a truncated file is reported (with the
    offset where it breaks) instead of indexed in part. Exit code 1 if any file failed.

    Example: syndicrawl index rebuild --data-dir syndicrawl-demo
    """
    require_archive(settings)
    report = cdxj.rebuild(settings.warc_dir, settings.index_dir)
    lines = sum(1 for path in report.indexed for _ in path.open(encoding="utf-8"))
    stdout.print(
        f"Indexed {len(report.indexed)} WARC files ({lines} lines) into {settings.index_dir}/"
        + (f"; removed {len(report.removed)} stale indexes" if report.removed else "")
    )
    for problem in report.failed:
        click.echo(f"Error: {problem}", err=True)
    if report.failed:
        sys.exit(1)
