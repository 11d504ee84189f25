"""Shared fixtures. Servers and databases are real: loopback HTTP, SQLite files, PostgreSQL."""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

NETGUARD = Path(__file__).parent / "netguard"

# Guard this process and every subprocess (crawls run the real CLI) to loopback only.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD), os.environ.get("PYTHONPATH")]))
if "sitecustomize" not in sys.modules or Path(sys.modules["sitecustomize"].__file__ or "").parent != NETGUARD:
    runpy.run_path(str(NETGUARD / "sitecustomize.py"))  # and this process too

pytest_plugins = [
    "tests.fixtures.cli",
    "tests.fixtures.db",
    "tests.fixtures.feedserver",
    "tests.fixtures.newssite",
    "tests.fixtures.redis_server",
    "tests.fixtures.servers",
]
