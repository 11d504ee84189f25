"""``diff`` speed (issue #19): two 2,000-word texts, the copy edited as reposts and stealth edits do.

The parent is the demo blog's posts run together to 2,000 words; the copy has a header line
added, every link stripped with its text, one paragraph in ten dropped, one sentence in five
rewritten and its quotes straightened. ``edits.diff`` is timed (CPU time, p50 / p99 of
``--runs``) with its aligner, rapidfuzz's LCS (``alignment.word_opcodes``), and with difflib's
``SequenceMatcher`` in its place (autojunk on, as matching used it), and the share of the parent
kept and the edit counts of the two are printed side by side: the same result, or not.

Usage: .venv/bin/python -m benchmarks.diff_speed [--runs 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from difflib import SequenceMatcher
from unittest import mock

from archive.syndication import alignment, edits
from syndicrawl.demo.articles import load_demo, strip_links
from syndicrawl.demo.render import plain_text

WORDS = 2000


def _difflib_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    return [tuple(op) for op in SequenceMatcher(None, a, b, autojunk=True).get_opcodes()]  # type: ignore[misc]


def texts(seed: int = 1) -> tuple[str, str, list[str], dict[str, int]]:
    """(parent text, copy text, the parent's link texts, the edits made)."""
    rng = random.Random(seed)
    blog, _ = load_demo()
    paragraphs: list[str] = []
    for post in blog.posts:
        paragraphs += [p for p in post.html_body.split("</p>") if plain_text(p).strip()]
    chosen, count = [], 0
    while count < WORDS:
        paragraph = paragraphs[len(chosen) % len(paragraphs)]
        chosen.append(paragraph)
        count += len(plain_text(paragraph).split())
    parent = [plain_text(p).strip() for p in chosen]
    links = [text for p in chosen for text in edits.link_texts(f"<div>{p}</p></div>")]
    copy = ["by A. Writer"]
    made = {"header": 1, "paragraph_dropped": 0, "rewritten": 0, "links_removed": 0}
    for paragraph in chosen:
        if rng.random() < 0.1:
            made["paragraph_dropped"] += 1
            continue
        line = plain_text(strip_links(paragraph)).strip()
        made["links_removed"] += paragraph.count("<a ")
        if rng.random() < 0.2:
            made["rewritten"] += 1
            words = line.split()
            words[len(words) // 2] = "notably"
            line = " ".join(words)
        copy.append(line.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'"))
    return "\n".join(parent), "\n".join(copy), links, made


def timed(parent: str, copy: str, links: list[str], runs: int) -> tuple[float, float, edits.TextDiff]:
    edits.diff(parent, copy, link_texts=links)  # builds the process's regexes once (fingerprint._punctuation)
    times = []
    for _ in range(runs):
        start = time.process_time()
        result = edits.diff(parent, copy, link_texts=links)
        times.append((time.process_time() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    parent, copy, links, made = texts()
    print(f"parent {len(parent.split())} words, copy {len(copy.split())} words, {args.runs} runs, CPU ms per diff")
    print(f"made with {made}")
    for name, opcodes in (("rapidfuzz LCS", alignment.word_opcodes), ("difflib", _difflib_opcodes)):
        with mock.patch.object(alignment, "word_opcodes", opcodes):
            p50, p99, result = timed(parent, copy, links, args.runs)
        print(f"{name:14} p50 {p50:6.2f}  p99 {p99:6.2f}  {result.summary()}")


if __name__ == "__main__":
    main()
