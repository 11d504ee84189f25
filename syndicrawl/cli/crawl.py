"""``syndicrawl crawl`` and ``syndicrawl demo``: run a crawl and show its progress and summary."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import click

from archive.errors import ConfigError
from crawler.runner import SourceProgress, run_crawl
from syndicrawl.cli import cli, settings_options, stderr, stdout
from syndicrawl.cli.progress import LiveProgress, PlainProgress, progress_table
from syndicrawl.settings import Settings
from syndicrawl.sources import Source, load_sources, select

DEFAULT_SOURCES = Path("sources.toml")
DEMO_MARKER = ".syndicrawl-demo"


def sources_option(func):  # type: ignore[no-untyped-def]
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_SOURCES,
        show_default=True,
        help="The sources file (see config/sources.example.toml).",
    )(func)


def read_sources(config_file: Path) -> list[Source]:
    if not config_file.exists():
        raise ConfigError(
            f"{config_file}: no such sources file; give --config FILE (example: config/sources.example.toml)"
        )
    return load_sources(config_file)


def crawl_with_progress(settings: Settings, sources: Sequence[Source]) -> list[SourceProgress]:
    """Run the crawl with a live table on a terminal, plain lines otherwise, then print the summary."""
    progress = LiveProgress(stderr) if stderr.is_terminal else PlainProgress(stderr)
    with progress:
        results = run_crawl(settings, sources, on_progress=progress)
    stdout.print(progress_table(results, title="Crawl summary"))
    for result in results:
        for path in result.warc_files:
            stdout.print(f"  {result.name}: {path}")
    return results


@cli.command()
@click.argument("source_names", metavar="[SOURCE]...", nargs=-1)
@sources_option
@settings_options
def crawl(source_names: tuple[str, ...], config_file: Path, settings: Settings) -> None:
    """Crawl the configured sources (all, or those named) into the archive.

    Feeds, sitemaps and start pages of each source are fetched politely (robots.txt,
    per-host delay), every response is written to WARC, and every article page is
    extracted into the database. Exit code 1 on a config error, 2 if a source failed.

    Example: syndicrawl crawl --config sources.toml rbn
    """
    sources = select(read_sources(config_file), source_names, config_file)
    results = crawl_with_progress(settings, sources)
    if any(r.status not in {"finished"} for r in results):
        raise SystemExit(2)


@cli.command()
@settings_options
def demo(settings: Settings) -> None:
    """Crawl two bundled demo sites served on loopback: an author blog and a repost site.

    Offline and self-contained: a Lendman-like blog (Blogger style) and an RBN-like
    WordPress repost site are served on 127.0.0.1 and 127.0.0.3; both are crawled
    into a fresh data directory (default ./syndicrawl-demo), and the summary printed.

    Example: syndicrawl demo --data-dir /tmp/demo
    """
    from syndicrawl.demo.server import serve_demo_sites

    if "data_dir" not in settings.origins or settings.origins["data_dir"] == "default":
        settings = replace(settings, data_dir=Path("syndicrawl-demo"))
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / DEMO_MARKER).exists():
            raise ConfigError(f"{data_dir}: exists and is not a demo data directory; give another --data-dir")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    (data_dir / DEMO_MARKER).touch()
    settings = replace(settings, database_url="", download_delay=0.0, backfill_pages=5)
    with serve_demo_sites() as (blog, rbn):
        sources = [
            Source(
                name="lendman-blog",
                kind="origin",
                feeds=(f"{blog.base_url}/feeds/posts/default",),
                start_urls=(f"{blog.base_url}/",),
                allowed_domains=(urlsplit(blog.base_url).hostname or "",),
            ),
            Source(
                name="rbn",
                kind="repost",
                feeds=(f"{rbn.base_url}/feed/",),
                start_urls=(f"{rbn.base_url}/",),
                allowed_domains=(urlsplit(rbn.base_url).hostname or "",),
            ),
        ]
        stderr.print(f"Serving the demo sites: {blog.base_url}/ (author blog), {rbn.base_url}/ (repost site)")
        crawl_with_progress(settings, sources)
    stdout.print(f"Archive written to {data_dir}/ (WARC files in {settings.warc_dir}/)")
