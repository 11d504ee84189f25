"""What a user gets wrong (an --out that cannot be written, a port in use) is one ``Error:`` line, exit code 1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicrawl.cli import cli


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """An empty archive: read commands refuse a directory without one."""
    data = tmp_path / "data"
    assert run("db", "upgrade", "--data-dir", str(data))[0] == 0
    return data


def test_out_where_no_file_can_be_written(tmp_path: Path, archive: Path) -> None:
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "articles.csv"
    assert run("export", "articles", "--format", "csv", "--out", str(out), "--data-dir", str(archive)) == (
        1, f"Error: {out}: Not a directory\n"
    )


def test_serve_on_a_port_in_use(archive: Path, busy_port: int) -> None:
    assert run("serve", "--port", str(busy_port), "--data-dir", str(archive)) == (
        1, f"Error: cannot listen on 127.0.0.1:{busy_port}: Address already in use\n"
    )


def test_demo_on_a_port_in_use(tmp_path: Path, busy_port: int) -> None:
    code, output = run("demo", "--port", str(busy_port), "--data-dir", str(tmp_path / "demo"))
    assert (code, output) == (1, f"Error: cannot listen on 127.0.0.1:{busy_port}: Address already in use\n")
    assert not (tmp_path / "demo").exists()
