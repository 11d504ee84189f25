"""Rows out as JSON lines, CSV or Parquet: the shared part of ``clusters export`` and ``export articles``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from archive.errors import ConfigError
from syndicrawl.cli import stderr

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

F = TypeVar("F", bound="Callable[..., Any]")

FORMATS = ("jsonl", "csv", "parquet")


def format_options(func: F) -> F:
    """``--format`` and ``--out``."""
    func = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Output file (default: stdout).")(func)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True,
                        help="parquet needs --out and pip install 'syndicrawl[parquet]'.")(func)


def write_rows(rows: Iterable[dict[str, Any]], fields: Sequence[str], fmt: str, out: Path | None) -> None:
    """Write ``rows`` (dicts with ``fields``, in order) to ``out`` or stdout; name the file and count on stderr.

    JSON lines and CSV stream row by row; Parquet is columnar, so its rows are gathered first.
    """
    if fmt == "parquet":
        if out is None:
            raise ConfigError("parquet export needs --out FILE")
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ConfigError("parquet export needs pyarrow: pip install 'syndicrawl[parquet]'") from exc
        columns: dict[str, list[Any]] = {name: [] for name in fields}
        for row in rows:
            for name in fields:
                columns[name].append(row[name])
        pq.write_table(pa.table(columns), out)
        count = len(columns[fields[0]])
    elif out is None:
        count = _write_text(rows, fields, fmt, sys.stdout)
    else:
        with out.open("w", encoding="utf-8", newline="") as fh:
            count = _write_text(rows, fields, fmt, fh)
    if out is not None:
        stderr.print(f"Wrote {count} rows to {out}")


def _write_text(rows: Iterable[dict[str, Any]], fields: Sequence[str], fmt: str, out: IO[str]) -> int:
    count = 0
    writer = csv.DictWriter(out, fieldnames=fields) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in rows:
        if writer is not None:
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
