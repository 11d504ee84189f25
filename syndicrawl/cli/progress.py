"""Crawl and import progress: live on a terminal, a line every few seconds otherwise; their summaries."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.filesize import decimal
from rich.live import Live
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn
from rich.table import Table

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from archive.ingest.importer import ImportReport
    from crawler.runner import SourceProgress


def progress_table(rows: Sequence[SourceProgress], title: str | None = None) -> Table:
    """One row per source; a "not stored" column only once pages were lost (archive writes failed)."""
    lost = any(row.not_stored for row in rows)
    table = Table(title=title, title_justify="left")
    table.add_column("source")
    table.add_column("status")
    for name in ("pages", "articles", "failed", "bytes", "errors", *(("not stored",) if lost else ())):
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
            *((str(row.not_stored),) if lost else ()),
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


def import_table(reports: Sequence[ImportReport]) -> Table:
    """One row per imported file: where it went and what it added."""
    table = Table(title="Import summary", title_justify="left")
    table.add_column("file")
    table.add_column("source")
    for name in ("records", "captures", "known", "articles", "no article", "skipped"):
        table.add_column(name, justify="right")
    for report in reports:
        figures = (report.records, report.captures, report.known, report.articles, report.not_articles, report.skipped)
        table.add_row(report.warc_file, report.source, *map(str, figures))
    return table


class ImportBar:
    """A Rich progress bar per file, by bytes read (terminals only)."""

    def __init__(self, console: Console) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[counts]}"))
        self.progress = Progress(*columns, console=console, transient=True)
        self.tasks: dict[Path, TaskID] = {}

    def __enter__(self) -> ImportBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def __call__(self, report: ImportReport, offset: int) -> None:
        if report.path not in self.tasks:
            self.tasks[report.path] = self.progress.add_task(report.path.name, total=report.size, counts="")
        self.progress.update(self.tasks[report.path], completed=offset, counts=_counts(report))


class ImportLines:
    """Log-friendly import progress: a line at most every ``every`` seconds."""

    def __init__(self, console: Console, every: float = 5.0) -> None:
        self.console = console
        self.every = every
        self.last = time.monotonic()

    def __enter__(self) -> ImportLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, report: ImportReport, offset: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            share = offset / report.size if report.size else 1.0
            self.console.print(f"{report.path.name}: {share:.0%} of {decimal(report.size)}, {_counts(report)}")


def _counts(report: ImportReport) -> str:
    return f"{report.records} records, {report.captures} captures, {report.articles} articles, {report.skipped} skipped"
