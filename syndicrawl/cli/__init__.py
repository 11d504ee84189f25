"""The ``syndicrawl`` command: a thin shell over the archive and crawler APIs.

Each command parses its options, calls the library, and prints; library errors
(``SyndicrawlError``) become one ``Error:`` line and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.logging import RichHandler

from archive.db.embedded import DB_FILENAME
from archive.errors import ConfigError, SyndicrawlError
from archive.ingest.memory import keep_large_blocks
from syndicrawl import __version__
from syndicrawl.settings import Settings, load_settings

if TYPE_CHECKING:
    from archive.db.engine import Database

F = TypeVar("F", bound=Callable[..., Any])

#: Output goes to stdout, diagnostics (logs, progress) to stderr.
stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)
# Piped output is read by people in logs and READMEs, not cut at 80 columns.
for _console in (stdout, stderr):
    if not _console.is_terminal:
        _console.width = 200


def settings_options(func: F | None = None, *, data_dir_default: str = "./syndicrawl-data or $SYNDICRAWL_DATA_DIR") -> Any:
    """``--data-dir`` and ``--settings``, shared by every command; ``data_dir_default`` for its help
    when the command chooses another (``demo``)."""
    if func is None:
        return functools.partial(settings_options, data_dir_default=data_dir_default)

    @click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help=f"Data directory (WARCs, database). Default: {data_dir_default}.",
    )
    @click.option(
        "--settings",
        "settings_file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="A settings TOML file overriding config/defaults.toml.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, data_dir: Path | None, settings_file: Path | None, **kwargs: Any) -> Any:
        settings = load_settings(settings_file, overrides={"data_dir": data_dir})
        return func(*args, settings=settings, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_archive(settings: Settings) -> None:
    """Refuse a data directory that holds no archive (a mistyped --data-dir, another tool's
    directory) before anything is read or written in it: its SQLite database marks one; with
    the database elsewhere (PostgreSQL), its ``warcs/`` directory."""
    marker = settings.warc_dir if settings.database_url else settings.data_dir / DB_FILENAME
    if not marker.exists():
        raise ConfigError(f"no archive at {settings.data_dir}")


def open_archive(settings: Settings) -> Database:
    """The archive's database for a command that only reads it: never created or upgraded, and
    opened read-only, so that an archive this user cannot write (another user's) can be read.
    A database elsewhere (PostgreSQL) is checked for the archive's tables instead of the
    data directory, which such a command may not need."""
    from archive.db.engine import Database

    if not settings.database_url:
        require_archive(settings)
    return Database(settings.db_url, read_only=True)


def configure_logging(verbose: int) -> None:
    """Warnings (one line per problem) always; -v adds syndicrawl's progress, -vv Scrapy's too.

    Levels are enforced by a filter on our handler: Scrapy resets its loggers' levels when
    a crawl starts.
    """
    if stderr.is_terminal:
        handler: logging.Handler = RichHandler(console=stderr, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    ours = logging.INFO if verbose else logging.WARNING
    theirs = logging.INFO if verbose >= 2 else logging.WARNING

    def level_filter(record: logging.LogRecord) -> bool:
        own = record.name.split(".")[0] in {"syndicrawl", "crawler", "archive", "scheduler"}
        return record.levelno >= (ours if own else theirs)

    handler.addFilter(level_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(min(ours, theirs))


_VERBOSE = "syndicrawl.verbose"  # the key of the -v count in the context's meta, which subcommands share


def verbosity(ctx: click.Context) -> int:
    """How many -v were given, before the command name and after it together."""
    return int(ctx.meta.get(_VERBOSE, 0))


def _count_verbose(ctx: click.Context, param: click.Parameter, count: int) -> None:
    """Add this command's -v to those before it and set the log level (the group always does: once at start)."""
    if count or ctx.parent is None:
        ctx.meta[_VERBOSE] = verbosity(ctx) + count
        configure_logging(verbosity(ctx))


class VerboseMixin:
    """A command or group that takes ``-v`` itself: ``syndicrawl crawl -v`` as ``syndicrawl -v crawl``.

    Click parses a group's options only before the subcommand's name; this gives every command
    the same option, counted into one level (``verbosity``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(click.Option(  # type: ignore[attr-defined]
            ["-v", "--verbose"], count=True, expose_value=False, callback=_count_verbose,
            help="More log lines: -v syndicrawl's, -vv Scrapy's too.",
        ))


class Command(VerboseMixin, click.Command):
    pass


class SubGroup(VerboseMixin, click.Group):
    """``schedule``, ``feeds``, ``clusters``...: their commands and groups take -v too."""

    command_class = Command
    group_class = type  # its groups are SubGroups


#: Which module defines each top-level command. A command's module is imported only when that
#: command runs (or help lists it): ``crawl`` then starts without the web server, WACZ or
#: scheduler code, which costs the crawl process start-up time it would pay on every run.
COMMAND_MODULES = {
    "article": "inspect",
    "captures": "inspect",
    "chain": "chains",
    "clusters": "chains",
    "crawl": "crawl",
    "db": "db",
    "dedup": "chains",
    "doctor": "doctor",
    "demo": "crawl",
    "diff": "diffs",
    "export": "export",
    "feeds": "feeds",
    "import": "imports",
    "index": "index",
    "schedule": "schedule",
    "report": "report",
    "revisions": "diffs",
    "search": "search",
    "scheduler": "schedule",
    "serve": "serve",
    "snapshot": "snapshot",
    "sources": "inspect",
    "status": "status",
    "stats": "inspect",
    "urls": "inspect",
    "worker": "worker",
}


class Group(VerboseMixin, click.Group):
    """Loads command modules on demand; turns library errors into one line on stderr and exit code 1."""

    command_class = Command
    group_class = SubGroup

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(f"syndicrawl.cli.{COMMAND_MODULES[name]}")  # registers it on `cli`
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SyndicrawlError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            if exc.filename is None:  # not a file's problem: a bug, whose traceback is wanted
                raise
            # e.g. --out in a directory that does not exist or that this user cannot write
            raise click.ClickException(f"{exc.filename}: {exc.strerror or exc}") from exc
        except Exception as exc:
            # e.g. PostgreSQL unreachable, or a SQLite file on a read-only disk. Looked up, not
            # imported: a crawl's process never loads SQLAlchemy (its archive writer does).
            operational = getattr(sys.modules.get("sqlalchemy.exc"), "OperationalError", ())
            if not isinstance(exc, operational):
                raise
            raise click.ClickException("database " + " ".join(str(exc.orig or exc).split())) from exc


@click.group(cls=Group)
@click.version_option(__version__, prog_name="syndicrawl")
def cli() -> None:
    """Crawl news feeds and repost sites into WARC archives, and find syndicated copies.

    Start with `syndicrawl demo`: it serves two small sites on loopback, crawls
    them and shows what was archived.
    """


def main() -> None:
    keep_large_blocks()
    cli(prog_name="syndicrawl")


# Commands register themselves on `cli` when their modules are imported (see COMMAND_MODULES).

__all__ = ["Settings", "cli", "main", "open_archive", "require_archive", "settings_options", "stderr", "stdout", "verbosity"]
