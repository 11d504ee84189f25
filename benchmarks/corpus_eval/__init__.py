"""The second syndication dev set: sites built on the shared corpus's real pages, scored per case.

Independent of ``benchmarks.syndication_eval`` (which was written with the matching rules) in
its generator and material; it shares only the serving, crawling, export and scoring machinery.
``generate`` builds the sites and truth of one seed, ``run`` serves, crawls and scores a part:

    python -m benchmarks.corpus_eval.run --part tune|heldout [--small] [--keep DIR] [--corpus DIR]
"""
