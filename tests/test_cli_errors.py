"""What a user gets wrong (an --out that cannot be written, a port in use) is one ``Error:`` line, exit code 1;
and what a first-time user meets: -v after the command, the demo's --help and its sources file."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicrawl.cli import cli

PORT_HINT = "give another --port, or --port 0 for any free one"


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
        1, f"Error: cannot listen on 127.0.0.1:{busy_port}: Address already in use; {PORT_HINT}\n"
    )


def test_demo_on_a_port_in_use(tmp_path: Path, busy_port: int) -> None:
    code, output = run("demo", "--port", str(busy_port), "--data-dir", str(tmp_path / "demo"))
    assert (code, output) == (1, f"Error: cannot listen on 127.0.0.1:{busy_port}: Address already in use; {PORT_HINT}\n")
    assert not (tmp_path / "demo").exists()


def test_verbose_is_taken_after_the_command_name_too(archive: Path) -> None:
    """`syndicrawl stats -v` was "No such option: -v": click parses a group's options only before the command."""
    for args in (["-v", "stats"], ["stats", "-v"], ["feeds", "-v", "status"], ["feeds", "status", "-v"]):
        result = CliRunner().invoke(cli, [*args, "--data-dir", str(archive)])
        assert result.exit_code == 0, (args, result.output)
        assert _own_level() == logging.INFO, args
    result = CliRunner().invoke(cli, ["stats", "--data-dir", str(archive)])
    assert result.exit_code == 0 and _own_level() == logging.WARNING


def _own_level() -> int:
    """The level at which syndicrawl's own log lines now pass the handler's filter."""
    record = logging.LogRecord("syndicrawl.x", logging.INFO, __file__, 0, "m", None, None)
    [handler] = logging.getLogger().handlers
    return logging.INFO if handler.filter(record) else logging.WARNING


def test_demo_help_names_its_own_default_directory() -> None:
    result = CliRunner().invoke(cli, ["demo", "--help"], terminal_width=200)
    assert "Default: ./syndicrawl-demo or $SYNDICRAWL_DATA_DIR." in result.output
    assert "syndicrawl-data" not in result.output


def test_demo_serve_keeps_a_sources_file_it_did_not_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "demo-sources.toml"
    mine.write_text("# my own sources\n")
    assert run("demo", "--serve", "--port", "0") == (
        1, "Error: demo-sources.toml: exists and was not written by the demo; move it, or run demo --serve elsewhere\n"
    )
    assert mine.read_text() == "# my own sources\n"
