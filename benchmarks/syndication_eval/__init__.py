"""Syndication evaluation: generated sites with known copies, crawled for real, scored against the truth.

``generate`` builds the sites and the ground truth, ``run`` serves and crawls them and runs
``syndicrawl clusters export``, ``score`` and ``baselines`` measure the result:

    python -m benchmarks.syndication_eval.run [--small] [--corpus DIR] [--keep DIR]
"""
