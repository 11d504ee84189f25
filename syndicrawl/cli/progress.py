"""Crawl progress: a live table on a terminal, a line per source every few seconds otherwise."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.filesize import decimal
from rich.live import Live
from rich.table import Table

if TYPE_CHECKING:
    from rich.console import Console

    from crawler.runner import SourceProgress


def progress_table(rows: Sequence[SourceProgress], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("source")
    table.add_column("status")
    for name in ("pages", "articles", "failed", "bytes", "errors"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(
            row.name,
            row.status,
            str(row.pages),
            str(row.articles),
            str(row.extraction_failed),
            decimal(row.bytes),
            str(row.errors),
        )
    return table


class LiveProgress:
    """A Rich table redrawn in place while the crawl runs (terminals only)."""

    def __init__(self, console: Console) -> None:
        self.live = Live(progress_table([]), console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def __call__(self, rows: list[SourceProgress]) -> None:
        self.live.update(progress_table(rows))


class PlainProgress:
    """Log-friendly progress: one line per source when its figures change, at most every ``every`` s."""

    def __init__(self, console: Console, every: float = 5.0) -> None:
        self.console = console
        self.every = every
        self.last = time.monotonic()  # a crawl shorter than `every` prints only its summary
        self.shown: dict[str, tuple[object, ...]] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, rows: list[SourceProgress]) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        for row in rows:
            figures = (row.status, row.pages, row.articles, row.bytes, row.errors)
            if self.shown.get(row.name) != figures:
                self.shown[row.name] = figures
                self.console.print(
                    f"{row.name}: {row.status}, {row.pages} pages, {row.articles} articles, "
                    f"{decimal(row.bytes)}, {row.errors} errors"
                )
