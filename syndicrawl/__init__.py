"""syndicrawl: crawl news feeds and repost sites into WARC archives and find syndicated copies."""

import sys

__version__ = "0.1.0"


def main() -> None:
    """The ``syndicrawl`` command. Loading the CLI takes a moment (click, rich, settings): a
    Ctrl-C then ends the command as it does once the CLI runs, with click's "Aborted!"
    instead of Python's KeyboardInterrupt traceback."""
    try:
        from syndicrawl.cli import main as cli_main
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    cli_main()
