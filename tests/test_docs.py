"""Every command is documented: in the README with a real example, and in --help with an Example line."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from syndicrawl.cli import cli

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
MAKEFILE = (Path(__file__).parents[1] / "Makefile").read_text(encoding="utf-8")
CI = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")


def commands(group: click.Group = cli, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", command))
    return found


@pytest.mark.parametrize(("name", "command"), commands(), ids=[name for name, _ in commands()])
def test_command_is_documented(name: str, command: click.Command) -> None:
    assert f"\n$ syndicrawl {name}" in README, f"README has no example run of `syndicrawl {name}`"
    assert command.help and f"Example: syndicrawl {name}" in command.help


def test_readme_setup_commands_are_what_ci_runs() -> None:
    assert "make demo" in README and "make test" in README
    assert re.search(r"^demo: .*\n\t\$\(BIN\)/syndicrawl demo$", MAKEFILE, re.M)
    assert re.search(r"^test: .*\n\t\$\(BIN\)/pytest$", MAKEFILE, re.M)
    assert CI.rstrip().endswith("make test")
