"""Run one part of the corpus set end to end and print its scores per case against the targets.

Both seeds of the part are served side by side (each site on its own loopback host), crawled
with the real ``syndicrawl crawl`` and exported with ``syndicrawl clusters export`` by the
machinery of ``benchmarks.syndication_eval.run``, then scored against the truth.

    python -m benchmarks.corpus_eval.run --part tune|heldout [--small] [--keep DIR] [--corpus DIR]

Exit status: 0 when the system meets every target, 1 when it misses one, 2 when the corpus
or ``syndicrawl clusters export`` is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.corpus_eval.generate import FULL, SEEDS, SMALL, part_dataset, summary
from benchmarks.corpus_eval.material import CORPUS, CORPUS_MISSING
from benchmarks.syndication_eval import run
from benchmarks.syndication_eval.score import TARGETS as SHARED_TARGETS
from benchmarks.syndication_eval.score import case_table, meets_targets, table

# Stricter on excerpts than the first set: this one has two kinds of them, and few.
TARGETS = {**SHARED_TARGETS, "excerpts_linked": 0.98}


def evaluate(part: str, directory: Path, *, small: bool = False, corpus: Path = CORPUS) -> run.Report:
    """Generate, serve, crawl, export and score one part in `directory`."""
    return run.evaluate(part_dataset(part, SMALL if small else FULL, corpus), directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score syndication detection on the corpus set.")
    parser.add_argument("--part", choices=sorted(SEEDS), default="tune",
                        help="tune: the seeds to tune on; heldout: the seeds only scored at the end")
    parser.add_argument("--small", action="store_true", help="the size of the test suite")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"the real pages ({CORPUS})")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep the crawl, truth and export")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(CORPUS_MISSING.format(corpus=args.corpus), file=sys.stderr)
        return 2
    dataset = part_dataset(args.part, SMALL if args.small else FULL, args.corpus)
    print(f"part {args.part} (seeds {', '.join(map(str, SEEDS[args.part]))})")
    print(summary(dataset), end="\n\n")
    with run.workdir(args.keep) as directory:
        report = run.evaluate(dataset, directory)
    print(f"crawl: {report.crawl_seconds:.1f} s; truth pages without an extracted article: {len(report.not_extracted)}")
    for url in report.not_extracted:
        print(f"  not extracted: {url}")
    print(table(report.scores, len(report.robots_violations), TARGETS))
    for violation in report.robots_violations:
        print(f"  robots.txt violation: {violation}")
    if not report.system_available:
        print(f"\n{run.MISSING_EXPORT}", file=sys.stderr)
        return 2
    print(f"\nsystem by case\n{case_table(report.scores['system'])}")
    missed = meets_targets(report.scores["system"], len(report.robots_violations), TARGETS)
    for line in missed:
        print(f"missed: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
