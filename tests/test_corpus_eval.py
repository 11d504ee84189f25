"""The second syndication dev set (``benchmarks.corpus_eval``), small size, end to end through the real CLI.

Its sites are built on the real pages of ``../shared/corpus/pages`` (skipped without them); the
tune seeds and the held-out seeds are each served, crawled with ``syndicrawl crawl``, exported
with ``syndicrawl clusters export`` and scored against the targets, one test per measure so a
miss names itself. The full parts run with ``python -m benchmarks.corpus_eval.run --part tune|heldout``.
"""

from __future__ import annotations

import pytest

from benchmarks.corpus_eval import run
from benchmarks.corpus_eval.generate import SMALL, generate, measure, part_dataset
from benchmarks.corpus_eval.material import CORPUS
from benchmarks.syndication_eval.run import Report
from benchmarks.syndication_eval.score import case_table, table

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus of real pages is not at {CORPUS}")

PARTS = ("tune", "heldout")
MEASURES = ("bcubed_f1", "origin_accuracy", "parent_accuracy", "excerpts_linked")
#: The held-out part does not reach two targets at full size yet (issue #16: origin 0.965,
#: parent 0.961; same-day pages that nothing orders, chains whose middle copy credits nobody),
#: and at this size it meets those and B-cubed only when its pages are crawled in a lucky order: the
#: worst of ten runs scored 0.9915, 0.96 and 0.96 (a brief seen before its site's comments
#: were learned, a light edit whose partner's page showed an author box). Below these floors
#: it has fallen back, and fails; the tune part must meet every target.
HELDOUT_FLOORS = {"bcubed_f1": 0.99, "origin_accuracy": 0.94, "parent_accuracy": 0.94}


@pytest.fixture(scope="module", params=PARTS)
def part(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, str, str]:
    """One part of the small set, crawled and scored, with its tables for failure messages."""
    report = run.evaluate(request.param, tmp_path_factory.mktemp(f"corpus-eval-{request.param}"), small=True)
    shown = table(report.scores, len(report.robots_violations), run.TARGETS)
    return report, f"{shown}\n\n{case_table(report.scores['system'])}", request.param


def test_every_page_is_extracted_and_exported_and_robots_txt_obeyed(part):
    report, shown, _ = part
    assert report.not_extracted == [], shown
    assert report.scores["system"].missing == 0, shown
    assert report.robots_violations == [], shown


@pytest.mark.parametrize("measure_name", MEASURES)
def test_meets_target(part, measure_name: str):
    report, shown, name = part
    floor = HELDOUT_FLOORS.get(measure_name, run.TARGETS[measure_name]) if name == "heldout" else run.TARGETS[measure_name]
    assert getattr(report.scores["system"], measure_name) >= floor, shown


def test_no_false_merges(part):
    report, shown, _ = part
    assert report.scores["system"].false_merges == 0, shown


def test_copies_and_excerpts_sit_on_either_side_of_the_60_percent_line():
    dataset = generate("tune", 1, SMALL)
    shares = {}
    for page in dataset.pages:
        if page.case in ("copy-line", "excerpt-line") and page.parent is not None:
            source = dataset.by_id[page.parent].post.paragraphs
            own = [p for p in page.post.paragraphs if not p.startswith("Read more at")]
            shares[page.case] = measure(own) / measure(source)
    assert 0.54 <= shares["excerpt-line"] < 0.60
    assert 0.60 <= shares["copy-line"] <= 0.67


def test_seeds_share_no_text_and_the_parts_share_no_template():
    tune, heldout = part_dataset("tune", SMALL), part_dataset("heldout", SMALL)
    for dataset in (tune, heldout):
        by_seed = {}
        for page in dataset.pages:
            if page.relation == "origin":
                by_seed.setdefault(page.cluster, set()).add(page.site.rsplit("-", 1)[1])
        assert all(len(seeds) == 1 for seeds in by_seed.values())
    assert not {r.template.name for r in tune.roles} & {r.template.name for r in heldout.roles}
