"""``pip install .`` installs everything a crawl imports, with any pip.

pip before its 2020 resolver (Python 3.11's bundled pip still behaves so when a package is
already being installed) drops the extras a dependency asks of another dependency: justext's
``lxml[html_clean]`` then installs no ``lxml_html_clean``, and the first extraction fails on
``import lxml.html.clean``. Whatever is reached only through such an extra must be declared.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def installed_by(follow_extras_of_dependencies: bool) -> set[str]:
    """The distributions our dependencies bring in (from their installed metadata)."""
    ours = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    seen: set[tuple[str, str]] = set()
    todo = [(Requirement(spec), True) for spec in ours]
    while todo:
        requirement, declared = todo.pop()
        followed = declared or follow_extras_of_dependencies
        for extra in ("", *sorted(requirement.extras)) if followed else ("",):
            key = (canonicalize_name(requirement.name), extra)
            if key in seen:
                continue
            seen.add(key)
            for spec in metadata.requires(requirement.name) or []:
                needed = Requirement(spec)
                if needed.marker is None or needed.marker.evaluate({"extra": extra}):
                    todo.append((needed, False))
    return {name for name, _ in seen}


def test_nothing_is_reached_only_through_a_dependency_s_extra() -> None:
    assert installed_by(True) - installed_by(False) == set()
