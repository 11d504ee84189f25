"""``syndicrawl diff`` and ``syndicrawl revisions``: what a copy changed, and what a page changed later."""

from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape as markup
from rich.table import Table

from archive.db.models import Article, Capture
from archive.db.timestamps import TIME_HELP, parse_time
from archive.errors import ConfigError
from archive.ingest import changes
from syndicrawl.cli import cli, open_archive, settings_options, stdout
from syndicrawl.cli.rows import echo_json, json_option

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from archive.db.models import Revision
    from archive.syndication.edits import Edit, TextDiff
    from syndicrawl.settings import Settings

#: How each kind is marked in text output: removed, added, or changed.
_SIGNS = {"paragraph_dropped": "-", "links_removed": "-", "header": "+", "paragraph_added": "+"}


def _side(session: Session, article: Article) -> dict[str, Any]:
    capture = session.get(Capture, article.capture_id)
    return {"url": article.url, "title": article.title, "captured": capture.timestamp if capture else None}


def _summary_line(result: TextDiff) -> str:
    counts = ", ".join(f"{kind} {count}" for kind, count in result.counts().items()) or "no edits"
    return f"kept {result.kept:.1%} of the text; {counts}"


def _edit_lines(edit: Edit) -> list[str]:
    where = "" if edit.parent_line is None else f" line {edit.parent_line} -> {edit.copy_line}"
    note = "" if edit.counted else " (not counted)"
    head = f"[bold]{edit.kind}[/bold]{where}{note}"
    sign = _SIGNS.get(edit.kind)
    if sign == "-":
        return [head, f"  [red]- {markup(edit.parent_text)}[/red]"]
    if sign == "+":
        return [head, f"  [green]+ {markup(edit.copy_text)}[/green]"]
    return [head, f"  [red]- {markup(edit.parent_text)}[/red]", f"  [green]+ {markup(edit.copy_text)}[/green]"]


def _html(parent: dict[str, Any], copy: dict[str, Any], result: TextDiff) -> str:
    rows = "\n".join(
        f'<tr class="{edit.kind}"><td>{edit.kind}</td><td>{edit.parent_line or "title"}</td>'
        f"<td><del>{escape(edit.parent_text)}</del></td><td><ins>{escape(edit.copy_text)}</ins></td></tr>"
        for edit in result.edits
    )
    return (
        "<!doctype html>\n<meta charset=utf-8>\n<title>diff</title>\n"
        "<style>del{background:#fdd}ins{background:#dfd}td{vertical-align:top;padding:2px 6px}</style>\n"
        f'<p>From <a href="{escape(parent["url"])}">{escape(parent["url"])}</a> ({parent["captured"]:%Y-%m-%d %H:%M:%S} UTC)'
        f' to <a href="{escape(copy["url"])}">{escape(copy["url"])}</a> ({copy["captured"]:%Y-%m-%d %H:%M:%S} UTC):'
        f" {escape(_summary_line(result))}</p>\n"
        f"<table>\n<tr><th>edit</th><th>line</th><th>before</th><th>after</th></tr>\n{rows}\n</table>\n"
    )


@cli.command()
@click.argument("url")
@click.option(
    "--against", metavar="parent|origin|URL",
    help="What URL is compared with: its parent in its cluster (default), its origin, or another page.",
)
@click.option("--from", "start", metavar="TIME", help=f"Compare URL's capture nearest TIME with a later one: {TIME_HELP}.")
@click.option("--to", "end", metavar="TIME", help="With --from: the later capture, nearest TIME (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["text", "html"]), default="text", show_default=True)
@json_option
@settings_options
def diff(
    url: str, against: str | None, start: str | None, end: str | None, fmt: str, as_json: bool, settings: Settings
) -> None:
    """Show what URL's page changed in its parent (what the repost changed), or since an earlier capture.

    The texts are aligned word by word and the changes named: title, header (lines added on
    top), paragraph_dropped, paragraph_added, links_removed (link texts gone with their links),
    rewritten; boilerplate (datelines, credits) and typography are shown, not counted.

    Example: syndicrawl diff http://127.0.0.3:8480/2016/11/01/us-supported-terrorists-fail-to-break-aleppo-siege/ --data-dir syndicrawl-demo
    """
    if (start or end) and against:
        raise ConfigError("give --against or --from/--to, not both")
    if end and not start:
        raise ConfigError("--to: give --from too")
    with open_archive(settings) as database, database.session() as s:
        before, after = changes.compared(s, url, against=against, start=parse_time(start) if start else None,
                                         end=parse_time(end) if end else None)  # fmt: skip
        result = changes.diff_articles(s, settings.warcs, before, after)
        parent, copy = _side(s, before), _side(s, after)
    if as_json:
        echo_json({"from": parent, "to": copy, **result.to_dict()})
    elif fmt == "html":
        click.echo(_html(parent, copy, result), nl=False)
    else:
        stdout.print(f"from {parent['url']} ({parent['captured']:%Y-%m-%d %H:%M:%S} UTC)", soft_wrap=True)
        stdout.print(f"to   {copy['url']} ({copy['captured']:%Y-%m-%d %H:%M:%S} UTC)", soft_wrap=True)
        stdout.print(_summary_line(result))
        for edit in result.edits:
            stdout.print("\n".join(_edit_lines(edit)), soft_wrap=True)


def _revision_row(session: Session, revision: Revision) -> dict[str, Any]:
    article, before = session.get(Article, revision.article_id), session.get(Article, revision.previous_id)
    assert article is not None and before is not None  # both cascade with the revision
    return {
        "url": article.url,
        "seen": revision.seen_at,
        "previous_capture": _side(session, before)["captured"],
        "edits": json.loads(revision.counts),
        "declared": revision.declared,
        "title": article.title,
    }


@cli.command()
@click.argument("url", required=False)
@click.option("--changed-since", "since", metavar="TIME", help=f"List pages edited after TIME instead: {TIME_HELP}.")
@click.option("--source", help="With --changed-since: only this source's pages.")
@json_option
@settings_options
def revisions(url: str | None, since: str | None, source: str | None, as_json: bool, settings: Settings) -> None:
    """List the revisions of URL's page: captures whose text changed from the one before.

    A change beyond typography and boilerplate (a dateline, a sidebar) is a revision; each says
    what changed and whether the page declares it (an "Updated:" or "Correction:" note, a
    modification time); "stealth" when it does not. With --changed-since, every page revised
    after a time.

    Example: syndicrawl revisions --changed-since 2026-01-01 --data-dir syndicrawl-demo
    """
    if (url is None) == (since is None):
        raise ConfigError("give URL or --changed-since TIME")
    if source and not since:
        raise ConfigError("--source: only with --changed-since")
    with open_archive(settings) as database, database.session() as s:
        found = changes.revisions_of(s, url) if url else changes.changed_since(s, parse_time(since or ""), source)
        rows = [_revision_row(s, revision) for revision in found]
    if as_json:
        echo_json(rows)
        return
    table = Table()
    for column in ("seen", "previous capture", "edits", "declared", "url"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            f"{row['seen']:%Y-%m-%d %H:%M:%S}",
            f"{row['previous_capture']:%Y-%m-%d %H:%M:%S}",
            ", ".join(f"{kind} {count}" for kind, count in row["edits"].items()),
            markup(row["declared"] or "stealth"),
            row["url"],
        )
    stdout.print(table)
