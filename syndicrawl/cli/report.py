"""``syndicrawl report``: the analytics page of ``serve`` as a file."""

from __future__ import annotations

from pathlib import Path

import click

from syndicrawl.cli import cli, open_archive, settings_options, stdout
from syndicrawl.settings import Settings


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The HTML file to write; with --format png, the folder for the PNG files.")
@click.option("--format", "fmt", type=click.Choice(["html", "png"]), default="html", show_default=True,
              help="One standalone HTML page with every plot embedded, or one PNG file per plot.")
@settings_options
def report(out: Path, fmt: str, settings: Settings) -> None:
    """Write the syndication analytics: who reposts whom, repost lag, edits, spread, top clusters.

    The same figures and tables as the /analytics page of `syndicrawl serve`, in a file that
    opens offline.

    Example: syndicrawl report --out report.html --data-dir syndicrawl-demo
    """
    # matplotlib is loaded only by the commands that draw.
    from syndicrawl.web import analytics, report as files

    with open_archive(settings) as database, database.session() as s:
        data = analytics.gather(s)
    if fmt == "png":
        for path in files.write_pngs(data, out):
            stdout.print(f"Wrote {path}")
    else:
        files.write_html(data, out, str(settings.data_dir))
        stdout.print(f"Wrote {out}")
