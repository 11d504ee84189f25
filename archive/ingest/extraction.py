"""What an extractor worker computes for each page: its article and the article's fingerprint.

Both are CPU-bound, so both run in the worker process; the writer then only stores and
matches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from archive.ingest.extract import ExtractedArticle, ExtractorPool, Html, extract_article
from archive.syndication import fingerprint
from archive.syndication.matching import Fingerprint


@dataclass(frozen=True)
class Extraction:
    """An extracted article with its fingerprint, both computed in the extraction worker."""

    article: ExtractedArticle
    fingerprint: Fingerprint


def extract_for_matching(html: Html, url: str, *, fast: bool = True, max_bytes: int = 5_000_000) -> Extraction:
    """Extraction plus fingerprinting: both CPU-bound, so both belong in the worker process."""
    article = extract_article(html, url, fast=fast, max_bytes=max_bytes)
    return Extraction(article, Fingerprint.of(article.text))


def extraction_pool(workers: int, timeout: float, *, fast: bool, max_bytes: int) -> ExtractorPool:
    """An extractor pool whose workers extract and fingerprint pages (``extract_for_matching``).

    Its workers fork from this process: loading trafilatura and the MinHash permutations
    first means each worker inherits them instead of loading them again.
    """
    fingerprint.permutations()
    return ExtractorPool(
        workers, timeout, max_bytes=max_bytes, function=partial(extract_for_matching, fast=fast, max_bytes=max_bytes)
    )
