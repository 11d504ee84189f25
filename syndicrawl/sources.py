"""The sources file: which sites to crawl, where their feeds are, and what kind of site each is.

Validation happens before anything is crawled; each error names the file, the source and the
field, so a typo in one source never half-runs a crawl.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from archive.db.urls import fetch_problem
from archive.errors import ConfigError
from syndicrawl.durations import parse_duration
from syndicrawl.settings import LONGEST, plain, read_toml

Kind = Literal["origin", "repost", "unknown"]
KINDS: tuple[Kind, ...] = ("origin", "repost", "unknown")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # fullmatch: "$" also matches before a final newline
_URL_LISTS = ("feeds", "sitemaps", "start_urls")
_FIELDS = {
    "name", "kind", *_URL_LISTS, "allowed_domains", "backfill_pages", "download_delay", "private_addresses",
    "max_pages", "max_depth", "recheck",
}
#: Pages one crawl of a source fetches at most: 20 archive pages of 100 articles, five times over.
MAX_PAGES = 10_000
#: Link hops from an entry point (feed, sitemap, start URL and its older pages): 1 fetches the
#: articles they link to and no further; 2 also follows those pages' links (section pages).
MAX_DEPTH = 1
#: When an article page is fetched again after its first capture, to see whether it was edited
#: (seconds): an hour, a day and a week, as NewsDiffs-style monitors do; most stealth edits of a
#: news article are made on its first day.
RECHECK = (3600, 86400, 604800)


@dataclass(frozen=True)
class Source:
    """A site to crawl; ``kind`` says whether it publishes its own articles or reposts others'."""

    name: str
    kind: Kind
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    backfill_pages: int | None = None
    download_delay: float | None = None
    #: Its hosts may be on loopback, private or link-local addresses (see crawler/addresses.py).
    private_addresses: bool = False
    max_pages: int = MAX_PAGES
    max_depth: int = MAX_DEPTH
    #: Seconds after an article page's first capture at which it is fetched again, ascending; () none.
    recheck: tuple[int, ...] = RECHECK

    @property
    def urls(self) -> tuple[str, ...]:
        return self.feeds + self.sitemaps + self.start_urls


def _check_url(value: Any, where: str) -> str:
    problem = fetch_problem(value)
    if problem:
        raise ConfigError(f"{where}: {problem}: {value!r}")
    return value


def _url_list(entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}, field '{key}': must be a list of URLs")
    return tuple(_check_url(url, f"{where}, field '{key}'") for url in value)


def _whole_number(entry: dict[str, Any], key: str, where: str, default: int | None, least: int) -> int | None:
    value = entry.get(key, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
        raise ConfigError(f"{where}, field '{key}': must be a whole number >= {least}, got {value!r}")
    return value


def _recheck(entry: dict[str, Any], where: str) -> tuple[int, ...]:
    """The ``recheck`` durations as seconds, ascending, each once (``[]``: never)."""
    value = entry.get("recheck", None)
    if value is None:
        return RECHECK
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}, field 'recheck': must be a list of durations, e.g. [\"1h\", \"1d\", \"1w\"], "
                          f"or [] for none; got {value!r}")
    seconds = sorted({parse_duration(item, f"{where}, field 'recheck':") for item in value})
    if seconds and seconds[-1] > LONGEST:
        raise ConfigError(f"{where}, field 'recheck': at most {LONGEST} seconds (ten years)")
    return tuple(seconds)


def parse_source(entry: Any, where: str) -> Source:
    """Validate one ``[[source]]`` table. ``where`` locates it for error messages."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a [[source]] table")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}, field 'name': missing or not a plain name (letters, digits, - _ .)")
    where = f"{where} '{name}'"
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise ConfigError(f"{where}, field '{plain(unknown[0])}': unknown key (known: {', '.join(sorted(_FIELDS))})")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}, field 'kind': must be one of {', '.join(KINDS)}, got {kind!r}")
    feeds, sitemaps, start_urls = (_url_list(entry, key, where) for key in _URL_LISTS)
    if not (feeds or sitemaps or start_urls):
        raise ConfigError(f"{where}, field 'feeds': give at least one of feeds, sitemaps, start_urls")
    domains = entry.get("allowed_domains")
    if domains is None:
        domains = sorted({urlsplit(url).hostname or "" for url in feeds + sitemaps + start_urls})
    if not isinstance(domains, list) or not all(isinstance(d, str) and d and "/" not in d for d in domains):
        raise ConfigError(f"{where}, field 'allowed_domains': must be a list of host names")
    backfill = _whole_number(entry, "backfill_pages", where, None, 0)
    max_pages = _whole_number(entry, "max_pages", where, MAX_PAGES, 1)
    max_depth = _whole_number(entry, "max_depth", where, MAX_DEPTH, 1)
    delay = entry.get("download_delay")
    if delay is not None and (
        isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= LONGEST
    ):
        raise ConfigError(
            f"{where}, field 'download_delay': must be a number of seconds >= 0, at most {LONGEST} (ten years)"
        )
    private = entry.get("private_addresses", False)
    if not isinstance(private, bool):
        raise ConfigError(f"{where}, field 'private_addresses': must be true or false, got {private!r}")
    return Source(
        name=name,
        kind=kind,
        feeds=feeds,
        sitemaps=sitemaps,
        start_urls=start_urls,
        allowed_domains=tuple(domains),
        backfill_pages=backfill,
        download_delay=None if delay is None else float(delay),
        private_addresses=private,
        max_pages=max_pages or MAX_PAGES,
        max_depth=max_depth or MAX_DEPTH,
        recheck=_recheck(entry, where),
    )


def load_sources(path: Path) -> list[Source]:
    """Read and validate a sources file; raise ConfigError on the first problem."""
    document = read_toml(path, "sources file")
    extra = sorted(set(document) - {"source"})
    if extra:
        raise ConfigError(f"{path}: unknown top-level key '{plain(extra[0])}' (sources are [[source]] tables)")
    entries = document.get("source", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: no [[source]] tables")
    sources = [parse_source(entry, f"{path}: source #{i}") for i, entry in enumerate(entries, 1)]
    names = [s.name for s in sources]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"{path}: source '{duplicate}' is defined twice")
    return sources


def select(sources: Sequence[Source], names: Sequence[str], where: Path) -> list[Source]:
    """The sources named on the command line (all when none are named)."""
    if not names:
        return list(sources)
    known = {s.name: s for s in sources}
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(f"{where}: no source named '{missing[0]}' (known: {', '.join(known)})")
    return [known[n] for n in names]
