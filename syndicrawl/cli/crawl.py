"""``syndicrawl crawl`` and ``syndicrawl demo``: run a crawl and show its progress and summary."""

from __future__ import annotations

import contextlib
import logging
import resource
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive.db.locks import LockRequest
from archive.errors import ConfigError, LockHeld, LockLost
from syndicrawl import exitcodes
from syndicrawl.cli import cli, settings_options, stderr, stdout
from syndicrawl.cli.progress import LiveProgress, PlainProgress, progress_table
from syndicrawl.settings import Settings
from syndicrawl.sources import Source, load_sources, select

if TYPE_CHECKING:
    from crawler.runner import SourceProgress
    from syndicrawl.demo.blogger import BloggerSite
    from syndicrawl.demo.server import SiteServer

logger = logging.getLogger(__name__)

DEFAULT_SOURCES = Path("sources.toml")
#: Open files a source may hold: a WARC file in the archive writer, connections in the crawl process.
FILES_PER_SOURCE = 3
#: Open files a crawl holds whatever its sources: the database, pipes, the extractors' ends, libraries.
BASE_FILES = 256
DEMO_MARKER = ".syndicrawl-demo"
#: The user's example: the RBN repost of Stephen Lendman's Aleppo article.
DEMO_SEED_SLUG = "us-supported-terrorists-fail-to-break-aleppo-siege"


class SourceBusy(click.ClickException):
    exit_code = exitcodes.LOCKED  # the daemon skips the run


class LockGone(click.ClickException):
    exit_code = exitcodes.LOCK_LOST


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


def crawl_with_progress(
    settings: Settings, sources: Sequence[Source], locks: LockRequest | None = None
) -> list[SourceProgress]:
    """Run the crawl with a live table on a terminal, plain lines otherwise, then print the summary.

    The archive writer process starts first and takes ``locks``; Scrapy loads meanwhile.
    """
    from crawler.channel import ArchiveChannel, archive_config

    _allow_open_files(len(sources))
    channel = ArchiveChannel(archive_config(settings, sources, locks))
    from crawler.runner import run_crawl

    progress = LiveProgress(stderr) if stderr.is_terminal else PlainProgress(stderr)
    with progress:
        results = run_crawl(settings, sources, channel, on_progress=progress)
    stdout.print(progress_table(results, title="Crawl summary"))
    for result in results:
        for path in result.warc_files:  # where it is now: uploaded to object storage, or still here
            stdout.print(f"  {result.name}: {settings.warcs.location(path.name) if settings.warcs.remote else path}")
    for result in results:
        if result.not_stored:
            logger.error("%s: %d pages fetched but not stored (see 'archiving failed' above); the next crawl "
                         "fetches them again", result.name, result.not_stored)
    return results


def _allow_open_files(sources: int) -> None:
    """Raise this process's open-file limit, which the archive writer and extractors inherit, to
    what ``sources`` sources crawled at once hold, as far as the hard limit allows: 1,200 sources
    held 1,176 files in one process, past Linux's usual soft limit of 1,024 (then every file or
    connection opened failed). One warning line if the hard limit is lower."""
    wanted = BASE_FILES + FILES_PER_SOURCE * sources
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
    if hard != resource.RLIM_INFINITY and hard < wanted:
        logger.warning("%d sources may hold %d open files at once; the limit is %d (ulimit -Hn): crawl fewer "
                       "sources at a time, or raise it", sources, wanted, hard)


def poll_sources(
    settings: Settings, sources: Sequence[Source], feed_urls: Sequence[str], recheck_urls: Sequence[str] = ()
) -> list[Source]:
    """The sources reduced to their feeds and their article pages due a recheck, each with what to
    send; only ``feed_urls`` and ``recheck_urls`` when either is given."""
    # Only polls read the database here (a crawl's writer process opens it for the rest).
    from archive.db import feedpolls, rechecks
    from archive.db.engine import Database
    from crawler.polls import poll_source

    configured = {url for source in sources for url in source.feeds}
    unknown = [url for url in feed_urls if url not in configured]
    if unknown:
        raise ConfigError(f"--feed {unknown[0]}: not a feed of {', '.join(s.name for s in sources)} in the sources file")
    if recheck_urls and len(sources) != 1:
        raise ConfigError(f"--recheck {recheck_urls[0]}: name the one source whose page it is")
    chosen = bool(feed_urls or recheck_urls)
    now = datetime.now(UTC)
    polled: list[Source] = []
    with Database(settings.db_url) as database, database.session() as s:
        for source in sources:
            feeds = tuple(url for url in source.feeds if not chosen or url in feed_urls)
            if recheck_urls:
                pages = tuple(rechecks.plans(s, recheck_urls))
            else:
                pages = tuple(rechecks.due(s, source.name, now)) if source.recheck and not chosen else ()
            if feeds or pages:
                polled.append(poll_source(source, feeds, feedpolls.poll_plans(s, source.name, feeds), pages))
    if not polled:
        raise ConfigError("--poll: none of the sources named has feeds or pages due a recheck")
    return polled


@cli.command()
@click.argument("source_names", metavar="[SOURCE]...", nargs=-1)
@sources_option
@click.option(
    "--poll",
    is_flag=True,
    help="Only the sources' feeds, and of their entries only those not archived yet (conditional "
    "GET where the server has proved it answers 304 truthfully); and the article pages due a recheck "
    "(the source's recheck policy), sending the stored capture's ETag / Last-Modified.",
)
@click.option("--feed", "feed_urls", metavar="URL", multiple=True, help="With --poll: only this feed (repeatable).")
@click.option(
    "--recheck",
    "recheck_urls",
    metavar="URL",
    multiple=True,
    help="With --poll: only fetch this article page again, due or not (repeatable).",
)
@settings_options
def crawl(
    source_names: tuple[str, ...],
    config_file: Path,
    poll: bool,
    feed_urls: tuple[str, ...],
    recheck_urls: tuple[str, ...],
    settings: Settings,
) -> None:
    """Crawl the configured sources (all, or those named) into the archive.

    Feeds, sitemaps and start pages of each source are fetched politely (robots.txt,
    per-host delay), every response is written to WARC, and every article page is
    extracted into the database. A source is crawled by one process at a time (the
    scheduler daemon's included).

    \b
    Exit codes:
      0  every source finished
      1  an error, one Error: line: a bad sources or settings file, an archive that
         cannot be opened
      2  a usage error (an unknown option)
      3  a source is being crawled by another process: nothing was crawled
      4  the crawl ran to its end, but a source failed: none of its feeds, sitemaps
         and start pages could be fetched (no connection, out of its allowed_domains),
         or its crawl could not start; or pages fetched could not be stored (a disk
         full, a database error): the summary counts them, the next crawl refetches them
      5  interrupted (Ctrl-C, SIGTERM): what was fetched is stored
      7  its lock could not be renewed within lock_ttl (the database locked by another
         process, Redis away) or was taken: it stopped at once, so that no other crawl
         of the source runs beside it; the next crawl (or doctor) repairs what it left

    Example: syndicrawl crawl --config sources.toml rbn
    """
    if feed_urls and not poll:
        raise ConfigError(f"--feed {feed_urls[0]}: only with --poll")
    if recheck_urls and not poll:
        raise ConfigError(f"--recheck {recheck_urls[0]}: only with --poll")
    sources = select(read_sources(config_file), source_names, config_file)
    if poll:
        sources = poll_sources(settings, sources, feed_urls, recheck_urls)
    named = [source.name for source in sources]
    names = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")  # what a refused crawl is told
    locks = LockRequest(
        settings.locks,
        tuple(f"crawl:{name}" for name in named),
        purpose=f"{'poll' if poll else 'crawl'} of {names}",
        what="source '{name}' is being crawled: {holder}",
    )
    try:
        results = crawl_with_progress(settings, sources, locks)
    except LockHeld as exc:
        raise SourceBusy(str(exc)) from exc
    except LockLost as exc:
        raise LockGone(str(exc)) from exc
    if any(r.status == "interrupted" for r in results):
        raise SystemExit(exitcodes.INTERRUPTED)
    if any(r.status != "finished" or r.not_stored for r in results):
        raise SystemExit(exitcodes.PARTLY_FAILED)


@cli.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8480,
    show_default=True,
    help="Port of both sites (the blog on 127.0.0.1, RBN on 127.0.0.3); 0 picks free ports.",
)
@click.option("--serve", is_flag=True, help="Only serve the sites until Ctrl-C; write demo-sources.toml here.")
@settings_options(data_dir_default="./syndicrawl-demo or $SYNDICRAWL_DATA_DIR")
def demo(port: int, serve: bool, settings: Settings) -> None:
    """Crawl two bundled demo sites served on loopback: an author blog and a repost site.

    Offline and self-contained: a Lendman-like blog (Blogger style, 127.0.0.1) and an
    RBN-like WordPress repost site (127.0.0.3) are served, crawled into a fresh data
    directory (default ./syndicrawl-demo) and the summary printed. With --serve the
    sites are only served, for trying `syndicrawl crawl --config demo-sources.toml`.

    Example: syndicrawl demo --data-dir /tmp/demo
    """
    from archive.db.engine import Database
    from archive.syndication.chains import chain
    from syndicrawl.cli.chains import render_chain
    from syndicrawl.demo.server import serve_demo_sites

    template = resources.files("syndicrawl.demo").joinpath("sources.toml").read_text("utf-8")
    served_sources = Path("demo-sources.toml")
    # A file of that name the demo did not write (its first line says so) is the user's.
    if serve and served_sources.exists() and not served_sources.read_text("utf-8", "replace").startswith(
        template.partition("\n")[0]
    ):
        raise ConfigError(f"{served_sources}: exists and was not written by the demo; "
                          "move it, or run demo --serve elsewhere")
    with serve_demo_sites(blog_address=("127.0.0.1", port), rbn_address=("127.0.0.3", port)) as (blog, rbn):
        config = template.replace("{blog}", blog.base_url).replace("{rbn}", rbn.base_url)
        stderr.print(f"Serving the demo sites: {blog.base_url}/ (author blog), {rbn.base_url}/ (repost site)")
        if serve:
            served_sources.write_text(config, encoding="utf-8")
            stderr.print("Wrote demo-sources.toml; try: syndicrawl crawl --config demo-sources.toml. Ctrl-C stops.")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
            return
        settings = _fresh_demo_dir(settings)
        sources_file = settings.data_dir / "demo-sources.toml"
        sources_file.write_text(config, encoding="utf-8")
        crawl_with_progress(replace(settings, download_delay=0.0), load_sources(sources_file))
        seed = rbn.site.permalink(next(p for p in rbn.site.posts if p.slug == DEMO_SEED_SLUG))
        edited_since = _stealth_edit(blog, sources_file, settings.data_dir)
    stdout.print(f"Archive written to {settings.data_dir}/ (WARC files in {settings.warc_dir}/)")
    hint = shlex.join(["syndicrawl", "chain", seed, "--data-dir", str(settings.data_dir)])
    stdout.print(f"\nSyndication chain of the RBN repost ({hint}):", soft_wrap=True)
    with Database(settings.db_url) as database, database.session() as s:
        stdout.print(render_chain(chain(s, seed)))
    hint = shlex.join(["syndicrawl", "revisions", "--changed-since", edited_since.isoformat(), "--data-dir",
                       str(settings.data_dir)])  # fmt: skip
    stdout.print(f"\nA post the blog edited after the crawl, without a note ({hint}).", soft_wrap=True)
    browse = shlex.join(["syndicrawl", "serve", "--data-dir", str(settings.data_dir)])
    stdout.print(f"\nBrowse it: {browse}, then open http://127.0.0.1:8080/", soft_wrap=True)


def _stealth_edit(blog: SiteServer[BloggerSite], sources_file: Path, data_dir: Path) -> datetime:
    """Edit one of the blog's posts without a note, then crawl the blog again: a revision for
    ``revisions --changed-since`` to find. In a crawl process of its own: a Twisted reactor runs
    once per process. Returns when the edit was made."""
    from syndicrawl.demo import revisions as demo_revisions

    edited_at = datetime.now(UTC).replace(microsecond=0)
    blog.site = demo_revisions.edited(blog.site)
    stderr.print("The blog edited a post after the crawl; crawling it again.")
    command = [
        sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources_file), "--data-dir", str(data_dir),
        "lendman-blog",
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise ConfigError(f"the demo's second crawl failed: {shlex.join(command)}")
    return edited_at


def _fresh_demo_dir(settings: Settings) -> Settings:
    """The demo's own data directory, emptied; one the demo did not make is never touched."""
    if settings.origins.get("data_dir", "default") == "default":
        settings = replace(settings, data_dir=Path("syndicrawl-demo"))
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / DEMO_MARKER).exists():
            raise ConfigError(f"{data_dir}: exists and is not a demo data directory; give another --data-dir")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)  # an empty directory given with --data-dir is used
    (data_dir / DEMO_MARKER).touch()
    return replace(settings, database_url="")
