"""Rows out as JSON lines, CSV or Parquet (``clusters export``, ``export articles``), and the
``--json`` of the read commands."""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from archive.errors import ConfigError
from syndicrawl.cli import stderr

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

F = TypeVar("F", bound="Callable[..., Any]")

FORMATS = ("jsonl", "csv", "parquet")


def format_options(func: F) -> F:
    """``--format`` and ``--out``."""
    func = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Output file (default: stdout).")(func)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True,
                        help="parquet needs --out and pip install 'syndicrawl[parquet]'.")(func)


def json_option(func: F) -> F:
    """``--json``: the command prints one JSON document instead of its table (shapes: README, "JSON output")."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (its shape: README, \"JSON output\").")(func)


def echo_json(value: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> None:
    """Print an object (indented), or a list of objects as a JSON array with one object a line.

    A list is written as it is iterated, so a command listing millions of rows holds one at a
    time. Times are ISO 8601 with their zone (the archive's are UTC).
    """
    if isinstance(value, Mapping):
        click.echo(_dumps(value, indent=2))
        return
    separator = "[\n"
    for item in value:
        click.echo(separator + _dumps(item), nl=False)
        separator = ",\n"
    click.echo("[]" if separator == "[\n" else "\n]")


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date | Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


#: Rows a Parquet row group holds: the file is written as the rows come, in groups this large.
PARQUET_BATCH = 4096


def write_rows(rows: Iterable[dict[str, Any]], fields: Mapping[str, str], fmt: str, out: Path | None) -> None:
    """Write ``rows`` (dicts with ``fields``, in order; ``fields`` maps each to its type) to ``out`` or
    stdout; name the file and count on stderr.

    Parquet columns get the declared types (``time``: ``timestamp[us, UTC]``), so every export
    has one schema, even one whose column is all null. JSON lines and CSV write dates and times
    in ISO 8601, times with their zone.
    """
    if fmt == "parquet":
        if out is None:
            raise ConfigError("parquet export needs --out FILE")
        count = _write_parquet(rows, fields, out)
    elif out is None:
        count = _write_text(rows, fields, fmt, sys.stdout)
    else:
        with out.open("w", encoding="utf-8", newline="") as fh:
            count = _write_text(rows, fields, fmt, fh)
    if out is not None:
        stderr.print(f"Wrote {count} rows to {out}")


def _write_parquet(rows: Iterable[dict[str, Any]], fields: Mapping[str, str], out: Path) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError("parquet export needs pyarrow: pip install 'syndicrawl[parquet]'") from exc
    # The column types the exports declare (``archive.syndication.chains``).
    types = {
        "str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "date": pa.date32(),
        "time": pa.timestamp("us", tz="UTC"),
    }
    schema = pa.schema([(name, types[kind]) for name, kind in fields.items()])
    count, rows = 0, iter(rows)
    with pq.ParquetWriter(out, schema) as writer:
        while batch := list(itertools.islice(rows, PARQUET_BATCH)):
            writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def _write_text(rows: Iterable[dict[str, Any]], fields: Mapping[str, str], fmt: str, out: IO[str]) -> int:
    count = 0
    writer = csv.DictWriter(out, fieldnames=list(fields)) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in rows:
        row = {name: _plain(value) if isinstance(value, date) else value for name, value in row.items()}
        if writer is not None:
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
