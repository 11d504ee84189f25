"""Results of pure functions of article texts, kept by the texts' hashes.

Placing a cluster's members compares each with the origin and with its neighbours in
rank; a cluster is placed again whenever a member joins, and its old members' texts come
back from the database unchanged. Keeping what was computed from them (a copy's edits of
the origin, its shingles, its header lines) makes a new member cost its own comparisons,
not the cluster's again. Keys are each text's 64-bit hash and length, not the text, so the
cache holds the results only (``functools.lru_cache`` would keep the texts themselves); two
texts of one length and one hash are a 2**-64 chance.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")

#: Results kept per function: a few clusters of hundreds of members.
SIZE = 4096


def _digest(value: object) -> object:
    # A string caches its 64-bit hash: a text met again in one placement costs nothing.
    return (hash(value), len(value)) if isinstance(value, str) else value


def by_text(function: Callable[..., R]) -> Callable[..., R]:
    """``function`` with its last ``SIZE`` results kept, by hash of its (positional) text
    arguments; its other arguments must be hashable."""
    kept: OrderedDict[tuple[object, ...], R] = OrderedDict()

    @functools.wraps(function)
    def cached(*args: object) -> R:
        key = tuple(_digest(arg) for arg in args)
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
        kept[key] = result = function(*args)
        if len(kept) > SIZE:
            kept.popitem(last=False)
        return result

    return cached
