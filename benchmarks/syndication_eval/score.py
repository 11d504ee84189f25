"""Scores of predicted syndication clusters against the generated truth, and their targets.

Every measure is over the pages of the ground truth, identified by URL; predicted rows for
other URLs are ignored, and a truth page without a predicted row counts as a singleton
cluster with no origin and no parent.

- B-cubed precision, recall and F1 of the clustering. Truth clusters are a base article's
  origin and copies; excerpts and unique pages are singletons.
- Origin accuracy: the share of truth clusters of two or more pages in which *every* member's
  predicted `origin_url` is the truth origin's URL (one member wrong, or split off with
  another origin, makes the whole cluster wrong).
- Parent accuracy: the share of copies and excerpts whose predicted `parent_url` is the
  URL of the page they were made from.
- Excerpts linked: the share of excerpts whose predicted `parent_url` is their source and
  whose predicted cluster holds no other page.
- False merges: hard-negative pairs predicted in one cluster, or one predicted as the
  other's parent.

`by_case` splits every measure by the truth's case label (B-cubed over the pages of a case,
parents of its copies and excerpts, its excerpts, merges of its hard-negative pairs);
`case_table` prints it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

TARGETS = {
    "bcubed_f1": 0.995,
    "origin_accuracy": 0.98,
    "parent_accuracy": 0.97,
    "excerpts_linked": 0.95,
    "false_merges": 0,
    "robots_violations": 0,
}


@dataclass(frozen=True)
class TruthRow:
    """The truth about one URL (see `generate.Page`, whose page ids it turns into URLs)."""

    url: str
    cluster: str
    relation: str
    origin_url: str
    parent_url: str | None
    case: str
    chained: bool = False  # a copy (or excerpt) made from a copy


@dataclass(frozen=True)
class Predicted:
    """One row of `syndicrawl clusters export`, or of a baseline."""

    cluster_id: str
    origin_url: str | None
    parent_url: str | None
    relation: str | None = None


@dataclass(frozen=True)
class Scores:
    """The measures of one prediction; `*_by` split a measure into (correct, total) per case."""

    precision: float
    recall: float
    bcubed_f1: float
    origin_accuracy: float
    parent_accuracy: float
    excerpts_linked: float
    false_merges: int
    missing: int
    origin_by: dict[str, tuple[int, int]] = field(default_factory=dict)
    parent_by: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_case: dict[str, CaseScores] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseScores:
    """The measures over the pages of one case: B-cubed F1 and (correct, total) counts; merges are (merged, pairs)."""

    pages: int
    bcubed_f1: float
    origin: tuple[int, int]
    parent: tuple[int, int]
    excerpts: tuple[int, int]
    merges: tuple[int, int]


def bcubed(truth: Mapping[str, str], predicted: Mapping[str, str],
           over: Sequence[str] | None = None) -> tuple[float, float, float]:
    """Return B-cubed (precision, recall, F1) of cluster labels `predicted` against `truth`, averaged over
    `truth`'s items (or the items `over`, clusters still being whole)."""
    items = list(truth if over is None else over)
    if not items:
        return 1.0, 1.0, 1.0
    labels = {item: predicted.get(item, ("missing", item)) for item in truth}
    truth_size = Counter(truth.values())
    predicted_size = Counter(labels.values())
    both = Counter((truth[item], labels[item]) for item in truth)
    precision = sum(both[truth[i], labels[i]] / predicted_size[labels[i]] for i in items) / len(items)
    recall = sum(both[truth[i], labels[i]] / truth_size[truth[i]] for i in items) / len(items)
    return precision, recall, 2 * precision * recall / (precision + recall)


def _ratio(counts: Mapping[str, tuple[int, int]]) -> float:
    correct = sum(c for c, _ in counts.values())
    total = sum(t for _, t in counts.values())
    return correct / total if total else 1.0


def _tally(pairs: list[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, ok in pairs:
        counts[key][0] += ok
        counts[key][1] += 1
    return {key: (c, t) for key, (c, t) in sorted(counts.items())}


def score(truth: Mapping[str, TruthRow], negatives: Sequence[tuple[str, str, str]],
          predicted: Mapping[str, Predicted]) -> Scores:
    """Score `predicted` (by URL) against `truth` (by URL); `negatives` are (url, url, trap) pairs."""
    empty = Predicted("", None, None)
    rows = {url: predicted.get(url, empty) for url in truth}
    truth_labels = {url: row.cluster for url, row in truth.items()}
    predicted_labels = {url: p.cluster_id for url, p in predicted.items() if url in truth}
    precision, recall, f1 = bcubed(truth_labels, predicted_labels)
    members: dict[str, list[TruthRow]] = defaultdict(list)
    for row in truth.values():
        members[row.cluster].append(row)
    origins = _tally([
        (group[0].case, all(rows[m.url].origin_url == m.origin_url for m in group))
        for group in members.values() if len(group) > 1
    ])
    parents = _tally([
        ("excerpt" if row.relation == "excerpt" else "chain" if row.chained else "direct",
         rows[row.url].parent_url == row.parent_url)
        for row in truth.values() if row.parent_url is not None
    ])
    cluster_size = Counter(p.cluster_id for p in predicted.values())
    excerpts = [row for row in truth.values() if row.relation == "excerpt"]
    linked = sum(
        1 for row in excerpts
        if rows[row.url].parent_url == row.parent_url and cluster_size[rows[row.url].cluster_id] == 1
    )
    merged = sum(1 for a, b, _ in negatives if _together(a, b, rows))
    is_linked = {row.url: rows[row.url].parent_url == row.parent_url and cluster_size[rows[row.url].cluster_id] == 1
                 for row in excerpts}
    by_case = {}
    for case in sorted({row.case for row in truth.values()} | {trap for _, _, trap in negatives}):
        pages = [url for url, row in truth.items() if row.case == case]
        by_case[case] = CaseScores(
            len(pages),
            bcubed(truth_labels, predicted_labels, pages)[2],
            _sum(all(rows[m.url].origin_url == m.origin_url for m in group)
                 for group in members.values() if len(group) > 1 and group[0].case == case),
            _sum(rows[url].parent_url == truth[url].parent_url for url in pages if truth[url].parent_url is not None),
            _sum(is_linked[url] for url in pages if url in is_linked),
            _sum(_together(a, b, rows) for a, b, trap in negatives if trap == case),
        )
    return Scores(
        precision, recall, f1, _ratio(origins), _ratio(parents), linked / len(excerpts) if excerpts else 1.0,
        merged, sum(1 for url in truth if url not in predicted), origins, parents, by_case,
    )


def _sum(outcomes: Iterable[bool]) -> tuple[int, int]:
    """(how many are true, how many there are)."""
    values = list(outcomes)
    return sum(values), len(values)


def _together(a: str, b: str, rows: Mapping[str, Predicted]) -> bool:
    """Whether pages `a` and `b` were put in one cluster or linked as parent and child."""
    first, second = rows[a], rows[b]
    same = bool(first.cluster_id) and first.cluster_id == second.cluster_id
    return same or first.parent_url == b or second.parent_url == a


def table(scores: Mapping[str, Scores], robots_violations: int, targets: Mapping[str, float] = TARGETS) -> str:
    """Format one table: a column per system, a row per measure, with the targets; then the splits."""
    names = list(scores)
    measures = [
        ("B-cubed precision", "precision", None),
        ("B-cubed recall", "recall", None),
        ("B-cubed F1", "bcubed_f1", ">="),
        ("origin accuracy", "origin_accuracy", ">="),
        ("parent accuracy", "parent_accuracy", ">="),
        ("excerpts linked", "excerpts_linked", ">="),
        ("false merges", "false_merges", "=="),
        ("pages not exported", "missing", None),
    ]
    width = max(12, *(len(name) for name in names))
    lines = [f"{'measure':<22}" + "".join(f"{name:>{width + 2}}" for name in names) + f"{'target':>12}"]
    for label, attr, rule in measures:
        cells = "".join(f"{_cell(getattr(s, attr)):>{width + 2}}" for s in scores.values())
        target = f"{rule} {_cell(targets[attr])}" if rule else ""
        lines.append(f"{label:<22}{cells}{target:>12}")
    lines.append(f"robots.txt violations during the crawl: {robots_violations} (target 0)")
    for title, attr in (("origin accuracy by case", "origin_by"), ("parent accuracy by kind", "parent_by")):
        lines.append(f"\n{title} (correct/total)")
        keys = sorted({key for s in scores.values() for key in getattr(s, attr)})
        for key in keys:
            cells = "".join(f"{'%d/%d' % getattr(s, attr).get(key, (0, 0)):>{width + 2}}" for s in scores.values())
            lines.append(f"  {key:<20}{cells}")
    return "\n".join(lines)


def case_table(scores: Scores) -> str:
    """Format `scores.by_case`: a row per case; counts are correct/total ("-" where a case has none)."""
    def count(pair: tuple[int, int]) -> str:
        return f"{pair[0]}/{pair[1]}" if pair[1] else "-"

    lines = [f"{'case':<20}{'pages':>6}{'B3 F1':>8}{'origin':>9}{'parent':>9}{'excerpts':>10}{'merged':>8}"]
    for case, c in scores.by_case.items():
        f1 = f"{c.bcubed_f1:.3f}" if c.pages else "-"
        lines.append(f"{case:<20}{c.pages:>6}{f1:>8}{count(c.origin):>9}{count(c.parent):>9}"
                     f"{count(c.excerpts):>10}{count(c.merges):>8}")
    return "\n".join(lines)


def _cell(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def meets_targets(scores: Scores, robots_violations: int, targets: Mapping[str, float] = TARGETS) -> list[str]:
    """Return the targets `scores` misses, as readable lines (empty when all are met)."""
    missed = [
        f"{name} = {_cell(getattr(scores, name))}, target >= {target}"
        for name, target in targets.items()
        if name not in ("false_merges", "robots_violations") and getattr(scores, name) < target
    ]
    if scores.false_merges:
        missed.append(f"false merges = {scores.false_merges}, target 0")
    if robots_violations:
        missed.append(f"robots.txt violations = {robots_violations}, target 0")
    return missed
