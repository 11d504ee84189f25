"""``syndicrawl search``: full-text search over the archived articles."""

from __future__ import annotations

import json
import re

import click
from rich.markup import escape

from archive.db.timestamps import TIME_HELP, parse_time
from archive.lookup import search as search_api
from syndicrawl.cli import cli, open_archive, settings_options, stdout
from syndicrawl.settings import Settings

_MARKED = re.compile(re.escape(search_api.MARK) + "(.+?)" + re.escape(search_api.MARK))


def _line(hit: search_api.Hit) -> str:
    facts = [hit.source or "?", f"published {hit.published}" if hit.published else "no date"]
    if hit.relation == "origin":
        facts.append(f"origin of cluster {hit.cluster_id}")
    elif hit.relation is not None:
        facts.append(f"{hit.relation} in cluster {hit.cluster_id}, origin {hit.origin_url}")
    return " · ".join(facts)


def _bold(snippet: str) -> str:
    return "".join(
        f"[bold]{escape(part)}[/bold]" if n % 2 else escape(part) for n, part in enumerate(_MARKED.split(snippet))
    )


@cli.command()
@click.argument("query")
@click.option("--source", help="Only pages of this source.")
@click.option("--author", help="Only articles whose author's name has these words (any case): Lendman, not Lend.")
@click.option("--from", "start", metavar="TIME", help=f"Only articles published on or after this day: {TIME_HELP}.")
@click.option("--to", "end", metavar="TIME", help="Only articles published on or before this day.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many pages to list.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the query and its results.")
@settings_options
def search(
    query: str, source: str | None, author: str | None, start: str | None, end: str | None, limit: int,
    as_json: bool, settings: Settings,
) -> None:
    """Find archived articles containing every word and "quoted phrase" of QUERY, best first.

    Titles and texts are searched; each page is listed once (its latest capture's article),
    with a snippet around the match, its source and date, and, when it is a syndicated copy,
    excerpt or origin, its cluster and the origin's URL. A query with Chinese or Japanese
    characters matches them as a substring.

    Example: syndicrawl search 'aleppo "humanitarian pause"' --data-dir syndicrawl-demo
    """
    since = parse_time(start).date() if start else None
    until = parse_time(end, end=True).date() if end else None
    with open_archive(settings) as database, database.connect() as conn:
        hits = search_api.search(conn, query, source=source, author=author, since=since, until=until, limit=limit)
    if as_json:
        click.echo(json.dumps({"query": query, "results": [hit.to_dict() for hit in hits]}, ensure_ascii=False, indent=2))
        return
    for n, hit in enumerate(hits, 1):
        stdout.print(f"{n}. [bold]{escape(hit.title or '(no title)')}[/bold]")
        stdout.print(f"   {escape(hit.url)}", soft_wrap=True)
        stdout.print(f"   {escape(_line(hit))}", soft_wrap=True)
        # Marks stay as ** where no bold can show them (a pipe, a file).
        stdout.print(f"   {_bold(hit.snippet) if stdout.is_terminal else escape(hit.snippet)}", soft_wrap=True)
    stdout.print(f"{len(hits)} page{'s' if len(hits) != 1 else ''} found" + (" (--limit reached)" if len(hits) == limit else ""))
