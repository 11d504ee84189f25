"""``syndicrawl chain``, ``clusters``, ``clusters export`` and ``dedup rebuild``: syndication answers."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.tree import Tree

from archive.db.engine import Database
from archive.syndication import chains as chains_api
from syndicrawl.cli import cli, open_archive, require_archive, settings_options, stdout
from syndicrawl.cli.rows import echo_json, format_options, json_option, write_rows
from syndicrawl.settings import Settings


def _label(node: chains_api.Node) -> str:
    published = f"{node.published} ({node.published_source})" if node.published else "no date"
    similarity = f", similarity {node.similarity:.2f}" if node.similarity is not None else ""
    lines = [
        f"{node.relation} · {node.site or '?'} · {node.url}",
        f"  {node.title or '(no title)'}",
        f"  published {published}, first captured {node.first_captured:%Y-%m-%d %H:%M:%S} UTC{similarity}",
    ]
    lines += [f"  - {reason}" for reason in node.evidence]
    if node.before_revision is not None:
        revised = f"{node.before_revision:%Y-%m-%d %H:%M:%S} UTC"
        lines.append(f"  ! old text: first captured before its origin was revised ({revised})")
    return "\n".join(lines)


def _tree(node: chains_api.Node, tree: Tree | None = None) -> Tree:
    branch = Tree(_label(node), guide_style="dim") if tree is None else tree.add(_label(node))
    for child in node.children:
        _tree(child, branch)
    return branch


def render_chain(root: chains_api.Node) -> Tree:
    return _tree(root)


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the tree as one JSON object.")
@settings_options
def chain(url: str, as_json: bool, settings: Settings) -> None:
    """Show the syndication chain of URL: its cluster as a tree from the origin.

    Each article shows its site, URL, published date, first capture time, relation
    (origin, copy, excerpt), similarity to its parent and the evidence for its place; a
    copy first captured before a revision of its origin is marked: it carries the old text.

    Example: syndicrawl chain http://127.0.0.3:8480/2016/11/01/us-supported-terrorists-fail-to-break-aleppo-siege/ --data-dir syndicrawl-demo
    """
    with open_archive(settings) as database, database.session() as s:
        root = chains_api.chain(s, url)
    if as_json:
        echo_json(root.to_dict())
    else:
        stdout.print(render_chain(root))


@cli.group(invoke_without_command=True)
@click.option("--source", help="Only clusters with an article from this source.")
@click.option("--min-size", type=click.IntRange(1), default=2, show_default=True, help="Smallest cluster to list.")
@json_option
@settings_options
@click.pass_context
def clusters(ctx: click.Context, source: str | None, min_size: int, as_json: bool, settings: Settings) -> None:
    """List clusters of syndicated copies, largest first.

    Example: syndicrawl clusters --data-dir syndicrawl-demo --min-size 2
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_archive(settings) as database, database.session() as s:
        rows = chains_api.clusters(s, source=source, min_size=min_size)
    if as_json:
        echo_json({
            "cluster_id": row.cluster_id, "size": row.size, "origin_site": row.origin_site, "title": row.title,
            "sites": list(row.sites), "origin_url": row.origin_url,
        } for row in rows)
        return
    table = Table()
    for column in ("cluster", "size", "origin site", "title", "sites", "origin URL"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.cluster_id), str(row.size), row.origin_site or "?", row.title or "", ", ".join(row.sites),
            row.origin_url,
        )
    stdout.print(table)


@clusters.command("export")
@format_options
@settings_options
def clusters_export(fmt: str, out: Path | None, settings: Settings) -> None:
    """Export one row per article: url, cluster_id, origin_url, parent_url, relation, similarity, ...

    For analyses with and without syndicated copies (pandas, DuckDB): filter on
    is_syndicated_copy. An excerpt's parent_url is the page it was cut from. A copy's
    edit_summary (JSON: edits per kind) and text_kept say what it changed in its parent.

    Example: syndicrawl clusters export --format csv --out clusters.csv --data-dir syndicrawl-demo
    """
    with open_archive(settings) as database, database.session() as s:
        write_rows(chains_api.export_rows(s), chains_api.EXPORT_FIELDS, fmt, out)


@cli.group()
def dedup() -> None:
    """Manage the near-duplicate index behind syndication matching."""


@dedup.command("rebuild")
@settings_options
def dedup_rebuild(settings: Settings) -> None:
    """Recompute the index, links and clusters of every stored article from scratch.

    Articles are matched as they are stored; rebuild after changing matching code or
    thresholds. It replays the articles in storage order and gives the same answer.

    Example: syndicrawl dedup rebuild --data-dir syndicrawl-demo
    """
    # Matching code (numpy, datasketch) is loaded only by the command that needs it.
    from archive.ingest import changes
    from archive.syndication import matching, tallies
    from archive.syndication.neardup import NearDupIndex

    require_archive(settings)  # it writes the clusters, into an archive that exists
    with Database(settings.db_url) as database, database.session() as s, s.begin():
        count = matching.rebuild(s, NearDupIndex(database))
        changes.summarise(s, settings.warcs)  # the copies' parents may have changed
        tallies.rebuild(s)
        sizes = chains_api.clusters(s, min_size=2)
    stdout.print(f"Matched {count} articles: {len(sizes)} clusters of copies, {sum(c.size for c in sizes)} articles in them.")
