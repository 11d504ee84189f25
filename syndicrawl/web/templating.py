"""The view's Jinja2 environment: templates and static files shipped in the package, HTML autoescaped."""

from __future__ import annotations

import functools
from importlib import resources

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from archive.lookup.search import MARK


@functools.cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("syndicrawl.web", "templates"), autoescape=select_autoescape(["html", "svg"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["marked"] = marked
    return env


def marked(snippet: str) -> Markup:
    """A search snippet with its ``**match**`` marks as ``<mark>`` elements, the rest escaped."""
    parts = str(escape(snippet)).split(MARK)
    return Markup("".join(f"<mark>{part}</mark>" if n % 2 else part for n, part in enumerate(parts)))


def static_file(name: str) -> bytes | None:
    """A file of ``static/`` by its bare name, or None (no paths: nothing outside the folder is served)."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    path = resources.files("syndicrawl.web").joinpath("static", name)
    return path.read_bytes() if path.is_file() else None
