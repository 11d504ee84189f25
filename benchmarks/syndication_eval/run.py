"""Run the syndication evaluation end to end and print system vs baselines against the targets.

Serves every generated site on its own loopback address (127.0.0.10, .11, ...: the crawler
scopes sources by host name, so sites must differ by host, not port), crawls them all with
the real ``syndicrawl crawl``, exports the clusters with ``syndicrawl clusters export``,
and scores the export and the two baselines (computed from the same database) against the
ground truth. Also counts requests the crawler made to paths robots.txt forbids.

    python -m benchmarks.syndication_eval.run [--small] [--corpus DIR] [--keep DIR]

Exit status: 0 when the system meets every target, 1 when it misses one, 2 when
``syndicrawl clusters export`` does not exist yet (the baselines are still printed).

Serving, crawling, exporting and scoring are shared with other sets (``benchmarks.corpus_eval``):
`evaluate` takes any dataset whose `sites()` says how to build, crawl and check each site.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from benchmarks.syndication_eval import baselines
from benchmarks.syndication_eval.bases import CORPUS
from benchmarks.syndication_eval.generate import CORPUS_MISSING, Dataset, full_dataset, small_dataset, summary
from benchmarks.syndication_eval.score import Predicted, Scores, TruthRow, meets_targets, score, table
from benchmarks.syndication_eval.sites import FEED_PATH, PER_PAGE, ROBOTS_DISALLOW, build_site
from syndicrawl.demo.base import Site
from syndicrawl.demo.server import SiteServer

FIRST_HOST = 10
CRAWL_TIMEOUT = 900
SETTINGS = """\
[crawl]
download_delay = 0.0
autothrottle = false
download_timeout = 10
[extract]
workers = 2
timeout = 30.0
"""
MISSING_EXPORT = (
    "syndicrawl clusters export is not available yet (`syndicrawl clusters export --help` failed): "
    "only the baselines were scored"
)

Servers = dict[str, SiteServer[Any]]


@dataclass(frozen=True)
class SiteSpec:
    """How to serve, crawl and check one site: `build` and `source` take the base URL it is served at."""

    name: str
    build: Callable[[str], Site]  # the site, which must have `permalink(post)`
    source: Callable[[str], Mapping[str, object]]  # its fields in the sources file
    disallowed: tuple[str, ...]  # path prefixes its robots.txt forbids


class EvalSet(Protocol):
    """A dataset of another set: pages with their truth (as `generate.Page`), hard negatives, and its sites."""

    @property
    def pages(self) -> Sequence[Any]: ...
    @property
    def negatives(self) -> Sequence[tuple[str, str, str]]: ...
    @property
    def by_id(self) -> Mapping[str, Any]: ...
    def sites(self) -> Sequence[SiteSpec]: ...


def site_specs(dataset: Dataset | EvalSet) -> Sequence[SiteSpec]:
    """The sites of `dataset` in serving order; this set's come from its roles."""
    if not isinstance(dataset, Dataset):
        return dataset.sites()
    specs = []
    for role in dataset.roles:
        posts = dataset.posts(role.name)
        fields = {
            "name": role.name,
            "kind": role.kind,
            "backfill_pages": math.ceil(len(posts) / PER_PAGE) + 1,
            "private_addresses": True,  # served on loopback
        }
        specs.append(SiteSpec(
            role.name,
            lambda base, role=role, posts=posts: build_site(role, posts, base),
            lambda base, role=role, fields=fields: {
                **fields, "feeds": [base + FEED_PATH[role.platform]], "start_urls": [base + "/"],
            },
            ROBOTS_DISALLOW[role.platform],
        ))
    return specs


@dataclass
class Report:
    """What one evaluation found; `scores` has "system" only when the export command exists."""

    scores: dict[str, Scores]
    robots_violations: list[str]
    not_extracted: list[str]
    crawl_seconds: float

    @property
    def system_available(self) -> bool:
        return "system" in self.scores


def syndicrawl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (a crawl owns its process's reactor)."""
    command = [sys.executable, "-m", "syndicrawl", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def export_available() -> bool:
    """Whether this syndicrawl has ``clusters export`` (the command this benchmark scores)."""
    return syndicrawl("clusters", "export", "--help").returncode == 0


@contextmanager
def serve(dataset: Dataset | EvalSet) -> Iterator[Servers]:
    """Serve each site of `dataset` on its own loopback host, port 0, in order; yield them by site name."""
    with ExitStack() as stack:
        servers: Servers = {}
        for n, spec in enumerate(site_specs(dataset)):
            servers[spec.name] = stack.enter_context(SiteServer(spec.build, host=f"127.0.0.{FIRST_HOST + n}"))
        yield servers


def truth_rows(dataset: Dataset | EvalSet, servers: Servers) -> tuple[dict[str, TruthRow], list[tuple[str, str, str]]]:
    """Turn the truth's page ids into the URLs the sites serve: (rows by URL, negative URL pairs)."""
    url = {page.id: servers[page.site].site.permalink(page.post) for page in dataset.pages}
    rows = {
        url[page.id]: TruthRow(
            url[page.id], page.cluster, page.relation, url[page.origin], page.parent and url[page.parent], page.case,
            chained=page.parent is not None and dataset.by_id[page.parent].relation == "copy",
        )
        for page in dataset.pages
    }
    return rows, [(url[a], url[b], trap) for a, b, trap in dataset.negatives]


def write_sources(path: Path, dataset: Dataset | EvalSet, servers: Servers) -> None:
    """Write a sources file reaching every post (each site says how: feeds, sitemaps, listings)."""
    lines = []
    for spec in site_specs(dataset):
        lines += ["[[source]]", *(f"{key} = {json.dumps(value)}" for key, value in
                                  spec.source(servers[spec.name].base_url).items()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def robots_violations(dataset: Dataset | EvalSet, servers: Servers) -> list[str]:
    """Return every request to a path the site's robots.txt disallows, as "site PATH"."""
    return [
        f"{spec.name} {request.path}"
        for spec in site_specs(dataset)
        for request in servers[spec.name].requests
        if request.path.startswith(spec.disallowed)
    ]


def crawl(directory: Path, dataset: Dataset | EvalSet, servers: Servers) -> float:
    """Crawl every site into `directory`/data with the real CLI; return the wall time in seconds."""
    sources, settings = directory / "sources.toml", directory / "settings.toml"
    write_sources(sources, dataset, servers)
    settings.write_text(SETTINGS, encoding="utf-8")
    started = time.monotonic()
    result = syndicrawl("crawl", "--config", str(sources), "--settings", str(settings),
                        "--data-dir", str(directory / "data"), timeout=CRAWL_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"syndicrawl crawl failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return time.monotonic() - started


def export(directory: Path) -> dict[str, Predicted]:
    """Run ``syndicrawl clusters export`` on the crawl in `directory` and read its rows by URL."""
    out = directory / "clusters.jsonl"
    result = syndicrawl("clusters", "export", "--format", "jsonl", "--out", str(out),
                        "--data-dir", str(directory / "data"), timeout=CRAWL_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"syndicrawl clusters export failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return read_export(out)


def read_export(path: Path) -> dict[str, Predicted]:
    """Read an export's JSONL rows by URL; cluster ids may be numbers or strings."""
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["url"]] = Predicted(str(row["cluster_id"]), row.get("origin_url"), row.get("parent_url"),
                                         row.get("relation"))
    return rows


def evaluate(dataset: Dataset | EvalSet, directory: Path) -> Report:
    """Serve, crawl, export and score `dataset`, working in `directory` (truth.jsonl is written there too)."""
    with serve(dataset) as servers:
        truth, negatives = truth_rows(dataset, servers)
        with (directory / "truth.jsonl").open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(asdict(row)) + "\n" for row in truth.values())
        seconds = crawl(directory, dataset, servers)
        violations = robots_violations(dataset, servers)
    articles = baselines.load_articles(directory / "data" / "syndicrawl.sqlite3")
    extracted = {article.url for article in articles}
    predictions = {}
    if export_available():
        predictions["system"] = export(directory)
    predictions["exact-text"] = baselines.exact_text(articles)
    predictions["shingles-0.5"] = baselines.near_duplicates(articles)
    return Report(
        {name: score(truth, negatives, predicted) for name, predicted in predictions.items()},
        violations,
        sorted(url for url in truth if url not in extracted),
        seconds,
    )


@contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    """Work in `keep` (created if need be) or, without it, in a temporary directory removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
    else:
        with tempfile.TemporaryDirectory(prefix="syndication-eval-") as name:
            yield Path(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score syndication detection on generated sites.")
    parser.add_argument("--small", action="store_true", help="the small set of the test suite (demo texts)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"real HTML pages for the full set ({CORPUS})")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep the crawl, truth and export")
    args = parser.parse_args(argv)
    if not args.small and not args.corpus.is_dir():
        print(CORPUS_MISSING.format(corpus=args.corpus), file=sys.stderr)
    dataset = small_dataset() if args.small else full_dataset(args.corpus)
    print(summary(dataset), end="\n\n")
    with workdir(args.keep) as directory:
        report = evaluate(dataset, directory)
    print(f"crawl: {report.crawl_seconds:.1f} s; truth pages without an extracted article: {len(report.not_extracted)}")
    for url in report.not_extracted:
        print(f"  not extracted: {url}")
    print(table(report.scores, len(report.robots_violations)))
    for violation in report.robots_violations:
        print(f"  robots.txt violation: {violation}")
    if not report.system_available:
        print(f"\n{MISSING_EXPORT}", file=sys.stderr)
        return 2
    missed = meets_targets(report.scores["system"], len(report.robots_violations))
    for line in missed:
        print(f"missed: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
