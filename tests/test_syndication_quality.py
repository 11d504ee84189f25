"""Syndication detection quality on the small generated set, end to end through the real CLI.

The generated sites are served on loopback, crawled with ``syndicrawl crawl``, clustered with
``syndicrawl clusters export`` and scored by ``benchmarks.syndication_eval`` (its ``score``
module defines each measure). The full set runs with ``python -m benchmarks.syndication_eval.run``.
"""

from __future__ import annotations

from benchmarks.syndication_eval import run
from benchmarks.syndication_eval.generate import small_dataset
from benchmarks.syndication_eval.score import meets_targets, table


def test_small_set_meets_the_quality_floors_and_beats_the_shingle_baseline(tmp_path):
    report = run.evaluate(small_dataset(), tmp_path)
    shown = table(report.scores, len(report.robots_violations))
    system, shingles = report.scores["system"], report.scores["shingles-0.5"]
    assert report.not_extracted == [], shown
    assert system.missing == 0, shown
    assert meets_targets(system, len(report.robots_violations)) == [], shown
    assert system.origin_accuracy > shingles.origin_accuracy, shown
    assert system.parent_accuracy > shingles.parent_accuracy, shown
