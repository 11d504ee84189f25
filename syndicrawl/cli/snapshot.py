"""``syndicrawl snapshot``: one archived capture of a URL, read from its WARC file."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from archive.db import catalog
from archive.db.timestamps import TIME_HELP, parse_time, timestamp14
from archive.errors import ConfigError, NotFoundError
from archive.lookup import snapshots
from archive.warc.http import header
from syndicrawl.cli import cli, open_archive, settings_options, stderr
from syndicrawl.cli.inspect import show_captures
from syndicrawl.cli.rows import json_option
from syndicrawl.settings import Settings


@cli.command()
@click.argument("url")
@click.option("--at", "at_text", metavar="TIME", help=f"The capture nearest TIME: {TIME_HELP}. Default: the latest.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the payload to FILE.")
@click.option("--headers", "show_headers", is_flag=True, help="Print the archived status line and headers.")
@click.option("--text", "show_text", is_flag=True, help="Print the article text extracted from the capture.")
@click.option("--list", "show_list", is_flag=True, help="List every capture of URL (its TimeMap), oldest first.")
@click.option("--decode", is_flag=True, help="Remove the Content-Encoding (gzip, br) from the payload.")
@json_option
@settings_options
def snapshot(
    url: str,
    at_text: str | None,
    out: Path | None,
    show_headers: bool,
    show_text: bool,
    show_list: bool,
    decode: bool,
    as_json: bool,
    settings: Settings,
) -> None:
    """Print or save the capture of URL nearest a time, as archived.

    The payload is written exactly as the server sent it: a gzip-encoded page stays
    gzip unless --decode is given. A revisit (the same payload seen again) is
    resolved to the original record's payload, with its own headers. The capture
    chosen is named on stderr. On a terminal, a text payload is shown decoded and any
    other is refused (give --out FILE).

    Example: syndicrawl snapshot http://127.0.0.3:8480/2016/11/01/us-supported-terrorists-fail-to-break-aleppo-siege/ --at 2026-11-25 --headers --data-dir syndicrawl-demo
    """
    if sum((out is not None, show_headers, show_text, show_list)) > 1:
        raise ConfigError("give at most one of --out, --headers, --text, --list")
    if as_json and not show_list:
        raise ConfigError("--json: only with --list")
    at = parse_time(at_text) if at_text else None
    with open_archive(settings) as database, database.session() as s:
        if show_list:
            rows = catalog.captures_for_url(s, url)
            if not rows:
                raise NotFoundError(f"{url}: no capture in the archive")
            show_captures(rows, as_json=as_json)
            return
        capture = snapshots.closest_capture(s.connection(), url, at)
        kind = f"revisit of #{capture.revisit_of}" if capture.revisit_of else "response"
        stderr.print(
            f"{timestamp14(capture.timestamp)} {capture.status} {kind} "
            f"{capture.warc_file} offset {capture.warc_offset}: {capture.url}"
        )
        if show_text:
            click.echo(snapshots.article_of(s, capture).text)
            return
        with snapshots.open_replay(s.connection(), settings.warcs, capture) as replay:
            if show_headers:
                click.echo(f"{replay.protocol} {replay.status_line}")
                for name, value in replay.headers:
                    click.echo(f"{name}: {value}")
                return
            if out is None and sys.stdout.isatty():
                # Raw bytes would garble the terminal: text is shown as a browser would, the rest refused.
                _check_textual(capture.url, replay.headers)
                decode = True
            payload = replay.decoded() if decode else replay.payload
            if out is None:
                with click.open_file("-", "wb") as fh:
                    shutil.copyfileobj(payload, fh)
                return
            with out.open("wb") as fh:
                shutil.copyfileobj(payload, fh)
        stderr.print(f"Wrote {out.stat().st_size} bytes to {out}")


TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml", "application/javascript",
              "application/rss+xml", "application/atom+xml", "application/feed+json")


def _check_textual(url: str, headers: list[tuple[str, str]]) -> None:
    """Refuse a payload that is not text (an image, a PDF) for a terminal."""
    mime = (header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if not mime.startswith(TEXT_TYPES):
        raise ConfigError(f"{url}: its payload is {mime or 'of no stated type'}, not text for a terminal; "
                          "give --out FILE")
